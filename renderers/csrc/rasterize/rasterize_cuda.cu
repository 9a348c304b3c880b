// Hard rasterization on CUDA: launch code only; the math is rasterize_kernel.h, shared with
// the CPU. Forward: one thread per pixel over all faces in order (the same comparisons as the
// CPU's face-major z-buffer). Backward: one thread per pixel marks the face it shows (every
// writer stores the same 1), then one thread per face, writing only its own gradient and
// skipping faces that show nowhere; no atomics, deterministic.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>

#include "rasterize.h"
#include "rasterize_kernel.h"

namespace renderers {
namespace {

constexpr int kThreads = 256;

inline unsigned int blocks_for(int64_t n) { return static_cast<unsigned int>((n + kThreads - 1) / kThreads); }

int texture_size_of(const at::Tensor& textures) {
  return textures.defined() && textures.dim() == 4 ? int(textures.size(2)) : 0;
}

template <typename T>
__global__ void setup_kernel(const T* faces, HardFace<T>* setups, int64_t count, HardKernelParams<T> p) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) setups[i] = setup_hard_face(faces + 9 * i, p);
}

template <typename T>
__global__ void forward_kernel(const HardFace<T>* setups, const T* textures, T* image, int32_t* face_index,
                               T* weights, T* depth, int64_t batch, HardKernelParams<T> p) {
  const int64_t plane = int64_t(p.size) * p.size;
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= batch * plane) return;
  const int64_t b = i / plane;
  const int pix = int(i % plane);
  const int row = pix / p.size, col = pix % p.size;
  const HardFace<T>* faces = setups + b * p.num_faces;
  const int winner = nearest_face(faces, p, row, col);
  write_hard_pixel(faces, textures ? textures + b * p.num_faces * p.texture_size * 3 : nullptr, p, row, col, winner,
                   image + b * 4 * plane, face_index + b * plane, weights + b * 3 * plane, depth + b * plane);
}

__global__ void mark_shown_kernel(const int32_t* face_index, uint8_t* shown, int64_t batch, int64_t plane,
                                  int num_faces) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= batch * plane) return;
  const int32_t face = face_index[i];
  if (face >= 0) shown[(i / plane) * num_faces + face] = 1;
}

template <typename T>
__global__ void backward_kernel(const T* faces, const T* textures, const T* image, const int32_t* face_index,
                                const uint8_t* shown, const T* grad_image, T* grad_faces, T* grad_textures,
                                int64_t batch, HardKernelParams<T> p) {
  const int64_t plane = int64_t(p.size) * p.size;
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= batch * p.num_faces) return;
  const int64_t b = i / p.num_faces;
  const int64_t block = int64_t(p.texture_size) * 3;
  const HardMaps<T> maps{image + b * 4 * plane, grad_image + b * 4 * plane, face_index + b * plane, plane, p.size,
                         p.texture_type == kNmrNoTexture ? 3 : 0, {nullptr, nullptr}, {nullptr, nullptr},
                         {nullptr, nullptr}, {nullptr, nullptr}, shown + b * p.num_faces};
  hard_backward_face(faces + 9 * i, textures ? textures + i * block : nullptr, p, maps, int(i % p.num_faces),
                     grad_faces + 9 * i, grad_textures ? grad_textures + i * block : nullptr);
}

}  // namespace

void rasterize_forward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures,
                            const RasterizeParams& params, at::Tensor& image, at::Tensor& face_index,
                            at::Tensor& weights, at::Tensor& depth) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  const int texture_size = texture_size_of(textures);
  const int64_t count = batch * num_faces;
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "rasterize_forward_cuda", [&] {
    const auto p = make_hard_params<scalar_t>(params, num_faces, texture_size);
    at::Tensor setups = at::empty({int64_t(sizeof(HardFace<scalar_t>)) * (count > 0 ? count : 1)},
                                  face_vertices.options().dtype(at::kByte));
    auto* setups_ptr = reinterpret_cast<HardFace<scalar_t>*>(setups.data_ptr<uint8_t>());
    if (count > 0) {
      setup_kernel<scalar_t><<<blocks_for(count), kThreads, 0, stream>>>(face_vertices.data_ptr<scalar_t>(),
                                                                         setups_ptr, count, p);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    const int64_t pixels = batch * int64_t(p.size) * p.size;
    forward_kernel<scalar_t><<<blocks_for(pixels), kThreads, 0, stream>>>(
        setups_ptr, texture_size > 0 ? textures.data_ptr<scalar_t>() : nullptr, image.data_ptr<scalar_t>(),
        face_index.data_ptr<int32_t>(), weights.data_ptr<scalar_t>(), depth.data_ptr<scalar_t>(), batch, p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

void rasterize_backward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                             const at::Tensor& face_index, const at::Tensor& grad_image,
                             const RasterizeParams& params, at::Tensor& grad_face_vertices,
                             at::Tensor& grad_textures) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  const int texture_size = texture_size_of(textures);
  const int64_t count = batch * num_faces;
  if (count == 0) return;
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int64_t plane = int64_t(params.image_size) * params.image_size;
  at::Tensor shown = at::zeros({count}, face_vertices.options().dtype(at::kByte));
  mark_shown_kernel<<<blocks_for(batch * plane), kThreads, 0, stream>>>(
      face_index.data_ptr<int32_t>(), shown.data_ptr<uint8_t>(), batch, plane, num_faces);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "rasterize_backward_cuda", [&] {
    const auto p = make_hard_params<scalar_t>(params, num_faces, texture_size);
    backward_kernel<scalar_t><<<blocks_for(count), kThreads, 0, stream>>>(
        face_vertices.data_ptr<scalar_t>(), texture_size > 0 ? textures.data_ptr<scalar_t>() : nullptr,
        image.data_ptr<scalar_t>(), face_index.data_ptr<int32_t>(), shown.data_ptr<uint8_t>(),
        grad_image.data_ptr<scalar_t>(),
        grad_face_vertices.data_ptr<scalar_t>(), texture_size > 0 ? grad_textures.data_ptr<scalar_t>() : nullptr,
        batch, p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace renderers
