// Edge sampling on the CPU: the launch sequences of edge_launch.h with at::parallel_for (every
// work item writes only what it owns, so results are bit-identical across runs and thread
// counts), and serially for the emulated CUDA launch.
#include "../common/launch.h"
#include "edge_launch.h"

namespace renderers {

void edge_forward_cpu(EdgeForwardTensors& t, const EdgeParams& params) {
  AT_DISPATCH_FLOATING_TYPES(t.face_vertices.scalar_type(), "edge_forward_cpu",
                             [&] { edge_forward_launch<scalar_t>(ParallelCpuLauncher{}, t, params); });
}

void edge_backward_cpu(EdgeBackwardTensors& t, const EdgeParams& params) {
  AT_DISPATCH_FLOATING_TYPES(t.face_vertices.scalar_type(), "edge_backward_cpu",
                             [&] { edge_backward_launch<scalar_t>(ParallelCpuLauncher{}, t, params); });
}

void edge_forward_emulated(EdgeForwardTensors& t, const EdgeParams& params) {
  AT_DISPATCH_FLOATING_TYPES(t.face_vertices.scalar_type(), "edge_forward_emulated",
                             [&] { edge_forward_launch<scalar_t>(SerialLauncher{}, t, params); });
}

void edge_backward_emulated(EdgeBackwardTensors& t, const EdgeParams& params) {
  AT_DISPATCH_FLOATING_TYPES(t.face_vertices.scalar_type(), "edge_backward_emulated",
                             [&] { edge_backward_launch<scalar_t>(SerialLauncher{}, t, params); });
}

}  // namespace renderers
