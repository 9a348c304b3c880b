// Kato's approximate gradient: entry point. Validates, allocates, dispatches on the device (or,
// for tests, runs the CUDA launch sequence emulated on the CPU).
#include "../common/dispatch.h"
#include "kato.h"

namespace renderers {

std::vector<at::Tensor> kato_backward(const at::Tensor& face_vertices_in, const at::Tensor& textures_in,
                                      const at::Tensor& image_in, const at::Tensor& face_index_in,
                                      const at::Tensor& grad_image_in, const RasterizeParams& params) {
  HardBackwardInputs in = prepare_hard_backward(face_vertices_in, textures_in, image_in, face_index_in,
                                                grad_image_in, params);
  if (in.batch > 0 && params.emulate_cuda) {
    RENDERERS_CHECK(in.face_vertices.device().is_cpu(), "emulate_cuda runs on CPU tensors only");
    kato_backward_emulated(in.face_vertices, in.textures, in.image, in.face_index, in.grad_image, params,
                           in.grad_face_vertices, in.grad_textures);
  } else if (in.batch > 0) {
    RENDERERS_DISPATCH_DEVICE(in.face_vertices, kato_backward, in.face_vertices, in.textures, in.image, in.face_index,
                              in.grad_image, params, in.grad_face_vertices, in.grad_textures);
  }
  return {in.grad_face_vertices, in.grad_textures};
}

}  // namespace renderers
