// SoftRas entry points: validate, allocate, dispatch on the tensors' device (or, for tests, run
// the CUDA launch sequence emulated on the CPU).
#include <cmath>

#include "../common/dispatch.h"
#include "soft_rasterize.h"

namespace renderers {

double SoftRasParams::cull_threshold() const { return sigma * std::log(1.0 / dist_eps - 1.0); }

namespace {

void check_params(const SoftRasParams& p) {
  RENDERERS_CHECK(p.image_size > 0 && p.image_size <= 16384, "image_size must be in [1, 16384], got ",
                  p.image_size);
  RENDERERS_CHECK(p.sigma > 0 && std::isfinite(p.sigma), "sigma must be positive, got ", p.sigma);
  RENDERERS_CHECK(p.gamma > 0 && std::isfinite(p.gamma), "gamma must be positive, got ", p.gamma);
  RENDERERS_CHECK(p.dist_eps > 0 && p.dist_eps < 0.5, "dist_eps must be in (0, 0.5), got ", p.dist_eps);
  RENDERERS_CHECK(std::isfinite(p.near) && p.near > 0, "near must be a positive finite depth (faces with a corner "
                  "nearer than near are not drawn), got ", p.near);
  RENDERERS_CHECK(std::isfinite(p.far) && p.near < p.far, "far must be finite (it normalises the depth softmax) and "
                  "larger than near, got near=", p.near, " far=", p.far);
  RENDERERS_CHECK(std::isfinite(p.eps), "eps must be finite, got ", p.eps);
  check_background(p.background);
  RENDERERS_CHECK(p.dist_func == kEuclidean || p.dist_func == kBarycentric, "unknown dist_func ", p.dist_func);
  RENDERERS_CHECK(p.aggr_alpha >= kAlphaProd && p.aggr_alpha <= kAlphaHard, "unknown aggr_alpha ", p.aggr_alpha);
  RENDERERS_CHECK(p.aggr_rgb >= kRgbSoftmax && p.aggr_rgb <= kRgbNone, "unknown aggr_rgb ", p.aggr_rgb);
  RENDERERS_CHECK(p.texture_type == kSurfaceTexture || p.texture_type == kVertexTexture, "unknown texture_type ",
                  p.texture_type);
}

void check_inputs(const at::Tensor& face_vertices, const at::Tensor& textures, const SoftRasParams& p) {
  check_face_vertices(face_vertices, 24);
  check_addressable(face_vertices.size(0) * 4 * int64_t(p.image_size) * p.image_size, "the image (B, 4, S, S)");
  if (p.aggr_rgb == kRgbNone) return;
  check_face_textures(textures, face_vertices, p.texture_type == kVertexTexture, true);
}

}  // namespace

std::vector<at::Tensor> soft_rasterize_forward(const at::Tensor& face_vertices_in, const at::Tensor& textures_in,
                                               const SoftRasParams& params) {
  check_params(params);
  check_inputs(face_vertices_in, textures_in, params);
  const at::Tensor face_vertices = face_vertices_in.contiguous();
  const at::Tensor textures = params.aggr_rgb == kRgbNone ? at::Tensor() : textures_in.contiguous();
  const int64_t batch = face_vertices.size(0), size = params.image_size;
  // The CPU forward writes every output value; the CUDA kernels (and their emulation) leave some at zero.
  const bool cuda_sequence = face_vertices.is_cuda() || params.emulate_cuda;
  const auto allocate = [&](int64_t channels) {
    const std::vector<int64_t> shape = {batch, channels, size, size};
    const auto options = face_vertices.options();
    return cuda_sequence ? at::zeros(shape, options) : at::empty(shape, options);
  };
  at::Tensor image = allocate(4);
  at::Tensor aux = allocate(3);
  if (batch == 0) return {image, aux};
  if (params.emulate_cuda) {
    RENDERERS_CHECK(face_vertices.device().is_cpu(), "emulate_cuda runs on CPU tensors only");
    soft_rasterize_forward_emulated(face_vertices, textures, params, image, aux);
    return {image, aux};
  }
  RENDERERS_DISPATCH_DEVICE(face_vertices, soft_rasterize_forward, face_vertices, textures, params, image, aux);
  return {image, aux};
}

std::vector<at::Tensor> soft_rasterize_backward(const at::Tensor& face_vertices_in, const at::Tensor& textures_in,
                                                const at::Tensor& image_in, const at::Tensor& aux_in,
                                                const at::Tensor& grad_image_in, const SoftRasParams& params) {
  check_params(params);
  check_inputs(face_vertices_in, textures_in, params);
  const at::Tensor face_vertices = face_vertices_in.contiguous();
  const at::Tensor textures = params.aggr_rgb == kRgbNone ? at::Tensor() : textures_in.contiguous();
  const int64_t batch = face_vertices.size(0), size = params.image_size;
  check_images(image_in, grad_image_in, face_vertices, batch, size);
  check_same(aux_in, face_vertices, "aux", "face_vertices");
  RENDERERS_CHECK(aux_in.dim() == 4 && aux_in.size(0) == batch && aux_in.size(1) == 3 && aux_in.size(2) == size &&
                      aux_in.size(3) == size,
                  "aux must have shape (B, 3, S, S) = (", batch, ", 3, ", size, ", ", size, "), got ", aux_in.sizes());
  const at::Tensor image = image_in.contiguous(), aux = aux_in.contiguous(), grad_image = grad_image_in.contiguous();
  at::Tensor grad_face_vertices = at::zeros_like(face_vertices);
  at::Tensor grad_textures = textures.defined() ? at::zeros_like(textures) : at::Tensor();
  if (batch == 0) return {grad_face_vertices, grad_textures};
  if (params.emulate_cuda) {
    RENDERERS_CHECK(face_vertices.device().is_cpu(), "emulate_cuda runs on CPU tensors only");
    soft_rasterize_backward_emulated(face_vertices, textures, image, aux, grad_image, params, grad_face_vertices,
                                     grad_textures);
    return {grad_face_vertices, grad_textures};
  }
  RENDERERS_DISPATCH_DEVICE(face_vertices, soft_rasterize_backward, face_vertices, textures, image, aux, grad_image,
                            params, grad_face_vertices, grad_textures);
  return {grad_face_vertices, grad_textures};
}

}  // namespace renderers
