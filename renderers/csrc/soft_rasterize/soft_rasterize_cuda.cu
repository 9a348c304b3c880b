// SoftRas on CUDA: launch code only; the math is soft_rasterize_kernel.h, shared with
// the CPU. Forward: one thread per pixel over all faces in order. Backward: one thread
// per face over its own pixels, writing only its own gradient, so neither pass needs
// atomics and both are deterministic.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>

#include "../common/dispatch.h"
#include "soft_rasterize.h"
#include "soft_rasterize_kernel.h"

namespace renderers {
namespace {

constexpr int kThreads = 256;

inline unsigned int blocks_for(int64_t n) { return static_cast<unsigned int>((n + kThreads - 1) / kThreads); }

template <typename T>
__global__ void setup_faces_kernel(const T* faces, FaceSetup<T>* setups, int64_t count, SoftKernelParams<T> p) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) setups[i] = setup_face(faces + 9 * i, p);
}

template <typename T>
__global__ void forward_kernel(const FaceSetup<T>* setups, const T* textures, T* image, T* aux, int64_t batch,
                               SoftKernelParams<T> p) {
  const int64_t plane = int64_t(p.size) * p.size;
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= batch * plane) return;
  const int64_t b = i / plane;
  const int pix = int(i % plane);
  const T* image_textures = textures ? textures + b * p.num_faces * p.texture_size * 3 : nullptr;
  rasterize_pixel(setups + b * p.num_faces, image_textures, p, pix / p.size, pix % p.size, image + b * 4 * plane,
                  aux + b * 3 * plane);
}

template <typename T>
__global__ void backward_kernel(const T* faces, const T* textures, const T* image, const T* aux,
                                const T* grad_image, T* grad_faces, T* grad_textures, int64_t batch,
                                SoftKernelParams<T> p) {
  const int64_t plane = int64_t(p.size) * p.size;
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= batch * p.num_faces) return;
  const int64_t b = i / p.num_faces;
  const int64_t block = int64_t(p.texture_size) * 3;
  backward_face(faces + 9 * i, textures ? textures + i * block : nullptr, p, int(i % p.num_faces),
                image + b * 4 * plane, aux + b * 3 * plane, grad_image + b * 4 * plane, grad_faces + 9 * i,
                grad_textures ? grad_textures + i * block : nullptr);
}

int texture_size_of(const at::Tensor& textures) {
  return textures.defined() && textures.dim() == 4 ? int(textures.size(2)) : 0;
}

}  // namespace

void soft_rasterize_forward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures,
                                 const SoftRasParams& params, at::Tensor& image, at::Tensor& aux) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  const int texture_size = texture_size_of(textures);
  const int64_t count = batch * num_faces;
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "soft_rasterize_forward_cuda", [&] {
    const auto p = make_kernel_params<scalar_t>(params, num_faces, texture_size);
    at::Tensor holder;
    auto* setups_ptr = scratch_buffer<FaceSetup<scalar_t>>(holder, face_vertices, count);
    if (count > 0) {
      setup_faces_kernel<scalar_t><<<blocks_for(count), kThreads, 0, stream>>>(face_vertices.data_ptr<scalar_t>(),
                                                                               setups_ptr, count, p);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    const int64_t pixels = batch * int64_t(p.size) * p.size;
    forward_kernel<scalar_t><<<blocks_for(pixels), kThreads, 0, stream>>>(
        setups_ptr, texture_size > 0 ? textures.data_ptr<scalar_t>() : nullptr, image.data_ptr<scalar_t>(),
        aux.data_ptr<scalar_t>(), batch, p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

void soft_rasterize_backward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures,
                                  const at::Tensor& image, const at::Tensor& aux, const at::Tensor& grad_image,
                                  const SoftRasParams& params, at::Tensor& grad_face_vertices,
                                  at::Tensor& grad_textures) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  const int texture_size = texture_size_of(textures);
  const int64_t count = batch * num_faces;
  if (count == 0) return;
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "soft_rasterize_backward_cuda", [&] {
    const auto p = make_kernel_params<scalar_t>(params, num_faces, texture_size);
    backward_kernel<scalar_t><<<blocks_for(count), kThreads, 0, stream>>>(
        face_vertices.data_ptr<scalar_t>(), texture_size > 0 ? textures.data_ptr<scalar_t>() : nullptr,
        image.data_ptr<scalar_t>(), aux.data_ptr<scalar_t>(), grad_image.data_ptr<scalar_t>(),
        grad_face_vertices.data_ptr<scalar_t>(), texture_size > 0 ? grad_textures.data_ptr<scalar_t>() : nullptr,
        batch, p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace renderers
