// Hard rasterization entry points: validate, allocate, dispatch on the tensors' device.
#include <cmath>

#include "../common/dispatch.h"
#include "rasterize.h"

namespace renderers {
namespace {

void check_params(const RasterizeParams& p) {
  RENDERERS_CHECK(p.image_size > 0 && p.image_size <= 32768, "image_size must be in [1, 32768], got ",
                  p.image_size);
  RENDERERS_CHECK(std::isfinite(p.near) && std::isfinite(p.far) && p.near < p.far,
                  "near must be smaller than far, got near=", p.near, " far=", p.far);
  RENDERERS_CHECK(p.eps > 0 && std::isfinite(p.eps), "eps must be positive, got ", p.eps);
  RENDERERS_CHECK(p.texture_type >= kNmrSurface && p.texture_type <= kNmrNoTexture, "unknown texture_type ",
                  p.texture_type);
}

void check_inputs(const at::Tensor& face_vertices, const at::Tensor& textures, const RasterizeParams& p) {
  check_face_vertices(face_vertices, 30);
  if (p.texture_type == kNmrNoTexture) return;
  const int64_t t = check_face_textures(textures, face_vertices, p.texture_type == kNmrVertex,
                                        p.texture_type == kNmrSurface);
  if (p.texture_type == kNmrVolume) {
    const auto n = int64_t(std::lround(std::cbrt(double(t))));
    RENDERERS_CHECK(t >= 1 && n * n * n == t, "volume textures must have N*N*N colours per face, got ", t);
  }
}

at::Tensor texture_or_empty(const at::Tensor& textures, const RasterizeParams& p) {
  return p.texture_type == kNmrNoTexture ? at::Tensor() : textures.contiguous();
}

}  // namespace

std::vector<at::Tensor> rasterize_forward(const at::Tensor& face_vertices_in, const at::Tensor& textures_in,
                                          const RasterizeParams& params) {
  check_params(params);
  check_inputs(face_vertices_in, textures_in, params);
  const at::Tensor face_vertices = face_vertices_in.contiguous();
  const at::Tensor textures = texture_or_empty(textures_in, params);
  const int64_t batch = face_vertices.size(0), size = params.image_size;
  at::Tensor image = at::zeros({batch, 4, size, size}, face_vertices.options());
  at::Tensor face_index = at::full({batch, size, size}, -1, face_vertices.options().dtype(at::kInt));
  at::Tensor weights = at::zeros({batch, size, size, 3}, face_vertices.options());
  at::Tensor depth = at::full({batch, size, size}, params.far, face_vertices.options());
  if (batch == 0) return {image, face_index, weights, depth};
  RENDERERS_DISPATCH_DEVICE(face_vertices, rasterize_forward, face_vertices, textures, params, image, face_index,
                            weights, depth);
  return {image, face_index, weights, depth};
}

std::vector<at::Tensor> rasterize_backward(const at::Tensor& face_vertices_in, const at::Tensor& textures_in,
                                           const at::Tensor& image_in, const at::Tensor& face_index_in,
                                           const at::Tensor& grad_image_in, const RasterizeParams& params) {
  check_params(params);
  check_inputs(face_vertices_in, textures_in, params);
  const at::Tensor face_vertices = face_vertices_in.contiguous();
  const at::Tensor textures = texture_or_empty(textures_in, params);
  const int64_t batch = face_vertices.size(0), size = params.image_size;
  check_images(image_in, grad_image_in, face_vertices, batch, size);
  RENDERERS_CHECK(face_index_in.scalar_type() == at::kInt && face_index_in.device() == face_vertices.device() &&
                      face_index_in.dim() == 3 && face_index_in.size(0) == batch && face_index_in.size(1) == size &&
                      face_index_in.size(2) == size,
                  "face_index must be int32 (B, S, S) on ", face_vertices.device(), ", got ",
                  face_index_in.scalar_type(), " ", face_index_in.sizes());
  const at::Tensor image = image_in.contiguous(), grad_image = grad_image_in.contiguous();
  const at::Tensor face_index = face_index_in.contiguous();
  at::Tensor grad_face_vertices = at::zeros_like(face_vertices);
  at::Tensor grad_textures = textures.defined() ? at::zeros_like(textures) : at::Tensor();
  if (batch == 0) return {grad_face_vertices, grad_textures};
  RENDERERS_DISPATCH_DEVICE(face_vertices, rasterize_backward, face_vertices, textures, image, face_index, grad_image,
                            params, grad_face_vertices, grad_textures);
  return {grad_face_vertices, grad_textures};
}

}  // namespace renderers
