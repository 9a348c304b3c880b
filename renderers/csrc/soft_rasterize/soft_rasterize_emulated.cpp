// SoftRas's CUDA launch sequence run serially on CPU tensors (SerialLauncher): the emulated
// launch the tests compare with the CPU path on machines without a GPU (see
// soft_rasterize_launch.h).
#include "soft_rasterize.h"
#include "soft_rasterize_launch.h"

namespace renderers {

void soft_rasterize_forward_emulated(const at::Tensor& face_vertices, const at::Tensor& textures,
                                     const SoftRasParams& params, at::Tensor& image, at::Tensor& aux) {
  soft_rasterize_forward_launch(SerialLauncher{}, face_vertices, textures, params, image, aux);
}

void soft_rasterize_backward_emulated(const at::Tensor& face_vertices, const at::Tensor& textures,
                                      const at::Tensor& image, const at::Tensor& aux, const at::Tensor& grad_image,
                                      const SoftRasParams& params, at::Tensor& grad_face_vertices,
                                      at::Tensor& grad_textures) {
  soft_rasterize_backward_launch(SerialLauncher{}, face_vertices, textures, image, aux, grad_image, params,
                                 grad_face_vertices, grad_textures);
}

}  // namespace renderers
