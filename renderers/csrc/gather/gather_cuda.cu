// Face gathers on CUDA: launch code only; the math is gather.h, shared with the CPU. One
// thread per face corner; the backward adds into the vertex gradients with atomics, so its
// float sums are not bit-reproducible on the GPU (the CPU backward is).
#include <ATen/cuda/Atomic.cuh>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>

#include "gather.h"

namespace renderers {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxChannels = 16;  // per-corner scratch of the backward; wider values loop in chunks

inline unsigned int blocks_for(int64_t n) { return static_cast<unsigned int>((n + kThreads - 1) / kThreads); }

template <typename T>
__global__ void forward_kernel(const T* values, const int64_t* faces, int64_t face_batch_stride, T* output,
                               int64_t corners, int64_t num_faces, int64_t num_vertices, int64_t channels, T scale) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;  // (b, f, k)
  if (i >= corners) return;
  const int64_t b = i / (3 * num_faces), corner = i % (3 * num_faces);
  const int64_t v = faces[b * face_batch_stride + corner];
  gather_corner(values + (b * num_vertices + v) * channels, channels, scale, output + i * channels);
}

template <typename T>
__global__ void backward_kernel(const T* values, const int64_t* faces, int64_t face_batch_stride, const T* grad_output,
                                T* grad_values, int64_t corners, int64_t num_faces, int64_t num_vertices,
                                int64_t channels, T scale) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= corners) return;
  const int64_t b = i / (3 * num_faces), corner = i % (3 * num_faces);
  const int64_t v = faces[b * face_batch_stride + corner];
  const T* vertex = values + (b * num_vertices + v) * channels;
  T* grad_vertex = grad_values + (b * num_vertices + v) * channels;
  for (int64_t first = 0; first < channels; first += kMaxChannels) {
    const int64_t count = channels - first < kMaxChannels ? channels - first : kMaxChannels;
    T local[kMaxChannels];
    for (int64_t c = 0; c < count; ++c) local[c] = T(0);
    gather_corner_backward(vertex + first, count, scale, grad_output + i * channels + first, local);
    for (int64_t c = 0; c < count; ++c) gpuAtomicAdd(grad_vertex + first + c, local[c]);
  }
}

}  // namespace

void gather_faces_forward_cuda(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride,
                               double scale, at::Tensor& output) {
  const int64_t corners = values.size(0) * faces.size(1) * 3;
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(values.scalar_type(), "gather_faces_forward_cuda", [&] {
    forward_kernel<scalar_t><<<blocks_for(corners), kThreads, 0, stream>>>(
        values.data_ptr<scalar_t>(), faces.data_ptr<int64_t>(), face_batch_stride, output.data_ptr<scalar_t>(),
        corners, faces.size(1), values.size(1), values.size(2), scalar_t(scale));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

void gather_faces_backward_cuda(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride,
                                const at::Tensor& grad_output, double scale, at::Tensor& grad_values) {
  const int64_t corners = values.size(0) * faces.size(1) * 3;
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(values.scalar_type(), "gather_faces_backward_cuda", [&] {
    backward_kernel<scalar_t><<<blocks_for(corners), kThreads, 0, stream>>>(
        values.data_ptr<scalar_t>(), faces.data_ptr<int64_t>(), face_batch_stride, grad_output.data_ptr<scalar_t>(),
        grad_values.data_ptr<scalar_t>(), corners, faces.size(1), values.size(1), values.size(2), scalar_t(scale));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace renderers
