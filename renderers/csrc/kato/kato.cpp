// Kato's approximate gradient: entry point. Validates, allocates, dispatches on the device.
#include "../common/dispatch.h"
#include "kato.h"

namespace renderers {

std::vector<at::Tensor> kato_backward(const at::Tensor& face_vertices_in, const at::Tensor& textures_in,
                                      const at::Tensor& image_in, const at::Tensor& face_index_in,
                                      const at::Tensor& grad_image_in, const RasterizeParams& params) {
  check_rasterize_params(params);
  check_rasterize_inputs(face_vertices_in, textures_in, params);
  const at::Tensor face_vertices = face_vertices_in.contiguous();
  const at::Tensor textures = rasterize_textures_or_empty(textures_in, params);
  const int64_t batch = face_vertices.size(0), size = params.image_size;
  check_images(image_in, grad_image_in, face_vertices, batch, size);
  check_face_index(face_index_in, face_vertices, batch, size);
  const at::Tensor image = image_in.contiguous(), grad_image = grad_image_in.contiguous();
  const at::Tensor face_index = face_index_in.contiguous();
  at::Tensor grad_face_vertices = at::zeros_like(face_vertices);
  at::Tensor grad_textures = textures.defined() ? at::zeros_like(textures) : at::Tensor();
  if (batch == 0) return {grad_face_vertices, grad_textures};
  RENDERERS_DISPATCH_DEVICE(face_vertices, kato_backward, face_vertices, textures, image, face_index, grad_image,
                            params, grad_face_vertices, grad_textures);
  return {grad_face_vertices, grad_textures};
}

}  // namespace renderers
