// Kernels written once for the CPU and CUDA, as per-thread functions.
//
// A kernel is a small struct (its arguments: pointers and scalars) with
//   HOST_DEVICE void operator()(int64_t i) const
// doing the work of global thread i of a one-dimensional launch over [0, n). A launcher runs
// it over the grid:
//   * CudaLauncher (launch_cuda.cuh): a __global__ wrapper whose body is that one call;
//   * ParallelCpuLauncher: at::parallel_for over the same indices (the CPU path, where one
//     thread per item is also the right decomposition on the CPU);
//   * SerialLauncher: every index in order on one CPU thread. Running a CUDA launch sequence
//     with it on CPU tensors is an *emulated launch*: the same per-thread functions in the same
//     order of operations per thread, so tests on machines without a GPU execute every line the
//     GPU would and compare its results with the CPU path's.
// Kernels may only write memory that their own index owns (no atomics, no shared memory), which
// is what makes the three launchers give the same results.
#pragma once

#include <ATen/Parallel.h>

#include <cstdint>

#include "macros.h"

namespace renderers {

struct SerialLauncher {
  template <class Kernel>
  void operator()(int64_t n, const Kernel& kernel) const {
    for (int64_t i = 0; i < n; ++i) kernel(i);
  }
};

struct ParallelCpuLauncher {
  int64_t grain = 0;  // indices per at::parallel_for task; 0: about 8 tasks per thread
  template <class Kernel>
  void operator()(int64_t n, const Kernel& kernel) const {
    if (n <= 0) return;
    const int64_t tasks = 8 * int64_t(at::get_num_threads());
    const int64_t g = grain > 0 ? grain : (n + tasks - 1) / tasks;
    at::parallel_for(0, n, g, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) kernel(i);
    });
  }
};

}  // namespace renderers
