// Edge sampling on CUDA: launch code only; the launch sequences and per-thread kernels are in
// edge_launch.h / edge_kernel.h (no atomics, deterministic). The CPU runs the same sequences
// serially in the tests (edge_forward_emulated / edge_backward_emulated).
#include "../common/launch_cuda.cuh"
#include "edge_launch.h"

namespace renderers {

void edge_forward_cuda(EdgeForwardTensors& t, const EdgeParams& params) {
  AT_DISPATCH_FLOATING_TYPES(t.face_vertices.scalar_type(), "edge_forward_cuda",
                             [&] { edge_forward_launch<scalar_t>(CudaLauncher{}, t, params); });
}

void edge_backward_cuda(EdgeBackwardTensors& t, const EdgeParams& params) {
  AT_DISPATCH_FLOATING_TYPES(t.face_vertices.scalar_type(), "edge_backward_cuda",
                             [&] { edge_backward_launch<scalar_t>(CudaLauncher{}, t, params); });
}

}  // namespace renderers
