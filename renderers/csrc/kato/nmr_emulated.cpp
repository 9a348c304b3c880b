// NMR's CUDA launch sequences (the hard rasterizer's forward, Kato's backward) run serially on
// CPU tensors (SerialLauncher): the emulated launches the tests compare with the CPU path on
// machines without a GPU.
#include "../rasterize/rasterize_launch.h"
#include "kato.h"
#include "kato_launch.h"

namespace renderers {

void rasterize_forward_emulated(const at::Tensor& face_vertices, const at::Tensor& textures,
                                const RasterizeParams& params, at::Tensor& image, at::Tensor& face_index,
                                at::Tensor& weights, at::Tensor& depth) {
  rasterize_forward_launch(SerialLauncher{}, face_vertices, textures, params, image, face_index, weights, depth);
}

void kato_backward_emulated(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                            const at::Tensor& face_index, const at::Tensor& grad_image, const RasterizeParams& params,
                            at::Tensor& grad_face_vertices, at::Tensor& grad_textures) {
  kato_backward_launch(SerialLauncher{}, face_vertices, textures, image, face_index, grad_image, params,
                       grad_face_vertices, grad_textures);
}

}  // namespace renderers
