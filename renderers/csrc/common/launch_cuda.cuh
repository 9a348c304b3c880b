// The CUDA launcher of per-thread kernels (see launch.h): one __global__ wrapper for all of
// them, whose body is the bounds check and the one call of the kernel's per-thread function.
#pragma once

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>

#include "launch.h"

namespace renderers {

template <class Kernel>
__global__ void per_thread_kernel(int64_t n, Kernel kernel) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) kernel(i);
}

struct CudaLauncher {
  static constexpr int kThreads = 256;
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream();

  template <class Kernel>
  void operator()(int64_t n, const Kernel& kernel) const {
    if (n <= 0) return;
    const auto blocks = static_cast<unsigned int>((n + kThreads - 1) / kThreads);
    per_thread_kernel<Kernel><<<blocks, kThreads, 0, stream>>>(n, kernel);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
};

}  // namespace renderers
