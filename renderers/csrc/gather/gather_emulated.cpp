// The face gathers' CUDA launch sequences run serially on CPU tensors (SerialLauncher): the
// emulated launches the tests compare with the CPU path on machines without a GPU.
#include "gather.h"
#include "gather_launch.h"

namespace renderers {

void gather_faces_forward_emulated(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride,
                                   double scale, at::Tensor& output) {
  gather_faces_forward_launch(SerialLauncher{}, values, faces, face_batch_stride, scale, output);
}

void gather_faces_backward_emulated(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride,
                                    const at::Tensor& grad_output, double scale, at::Tensor& grad_values) {
  gather_faces_backward_launch(SerialLauncher{}, values, faces, face_batch_stride, grad_output, scale, grad_values);
}

}  // namespace renderers
