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
  check_floating(face_vertices, "face_vertices");
  RENDERERS_CHECK(face_vertices.dim() == 4 && face_vertices.size(2) == 3 && face_vertices.size(3) == 3,
                  "face_vertices must have shape (B, F, 3, 3), got ", face_vertices.sizes());
  RENDERERS_CHECK(face_vertices.size(1) < (int64_t(1) << 30), "at most 2^30 faces per mesh are supported");
  if (p.texture_type == kNmrNoTexture) return;
  check_same(textures, face_vertices, "textures", "face_vertices");
  RENDERERS_CHECK(textures.dim() == 4 && textures.size(0) == face_vertices.size(0) &&
                      textures.size(1) == face_vertices.size(1) && textures.size(3) == 3,
                  "textures must have shape (B, F, T, 3) matching face_vertices ", face_vertices.sizes(), ", got ",
                  textures.sizes());
  const int64_t t = textures.size(2);
  if (p.texture_type == kNmrVertex) {
    RENDERERS_CHECK(t == 3, "vertex textures must have shape (B, F, 3, 3), got ", textures.sizes());
  } else if (p.texture_type == kNmrSurface) {
    const auto r = int64_t(std::lround(std::sqrt(double(t))));
    RENDERERS_CHECK(t >= 1 && r * r == t, "surface textures must have R*R colours per face, got ", t);
  } else {
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
  DeviceGuardFor guard(face_vertices);
  if (face_vertices.is_cuda()) {
#ifdef WITH_CUDA
    rasterize_forward_cuda(face_vertices, textures, params, image, face_index, weights, depth);
#else
    fail_no_cuda("rasterize_forward");
#endif
  } else {
    rasterize_forward_cpu(face_vertices, textures, params, image, face_index, weights, depth);
  }
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
  for (const auto& [t, name] : {std::pair{image_in, "image"}, std::pair{grad_image_in, "grad_image"}}) {
    check_same(t, face_vertices, name, "face_vertices");
    RENDERERS_CHECK(t.dim() == 4 && t.size(0) == batch && t.size(1) == 4 && t.size(2) == size && t.size(3) == size,
                    name, " must have shape (B, 4, S, S), got ", t.sizes());
  }
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
  DeviceGuardFor guard(face_vertices);
  if (face_vertices.is_cuda()) {
#ifdef WITH_CUDA
    rasterize_backward_cuda(face_vertices, textures, image, face_index, grad_image, params, grad_face_vertices,
                            grad_textures);
#else
    fail_no_cuda("rasterize_backward");
#endif
  } else {
    rasterize_backward_cpu(face_vertices, textures, image, face_index, grad_image, params, grad_face_vertices,
                           grad_textures);
  }
  return {grad_face_vertices, grad_textures};
}

}  // namespace renderers
