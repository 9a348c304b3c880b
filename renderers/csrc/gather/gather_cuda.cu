// Face gathers on CUDA: launch code only; the launch sequences are gather_launch.h, the math
// gather.h (shared with the CPU). Forward: one thread per face corner. Backward: one thread per
// vertex over its incident corners (no atomics): deterministic, and equal to the CPU bit for bit.
#include "../common/launch_cuda.cuh"
#include "gather.h"
#include "gather_launch.h"

namespace renderers {

void gather_faces_forward_cuda(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride,
                               double scale, at::Tensor& output) {
  gather_faces_forward_launch(CudaLauncher{}, values, faces, face_batch_stride, scale, output);
}

void gather_faces_backward_cuda(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride,
                                const at::Tensor& grad_output, double scale, at::Tensor& grad_values) {
  gather_faces_backward_launch(CudaLauncher{}, values, faces, face_batch_stride, grad_output, scale, grad_values);
}

}  // namespace renderers
