// Hard rasterization entry points: validate, allocate, dispatch on the tensors' device (or, for
// tests, run the CUDA launch sequence emulated on the CPU).
#include <cmath>

#include "../common/dispatch.h"
#include "rasterize.h"

namespace renderers {

void check_rasterize_params(const RasterizeParams& p) {
  RENDERERS_CHECK(p.image_size > 0 && p.image_size <= 32768, "image_size must be in [1, 32768], got ",
                  p.image_size);
  RENDERERS_CHECK(std::isfinite(p.near) && p.near > 0, "near must be a positive finite depth (faces with a corner "
                  "nearer than near are not drawn), got ", p.near);
  RENDERERS_CHECK(p.near < p.far, "far must be larger than near (+inf allowed), got near=", p.near, " far=", p.far);
  check_background(p.background);
  RENDERERS_CHECK(p.eps > 0 && std::isfinite(p.eps), "eps must be positive, got ", p.eps);
  RENDERERS_CHECK(p.texture_type >= kNmrSurface && p.texture_type <= kNmrNoTexture, "unknown texture_type ",
                  p.texture_type);
}

void check_rasterize_inputs(const at::Tensor& face_vertices, const at::Tensor& textures, const RasterizeParams& p) {
  check_face_vertices(face_vertices, 30);
  check_addressable(face_vertices.size(0) * 4 * int64_t(p.image_size) * p.image_size, "the image (B, 4, S, S)");
  if (p.texture_type == kNmrNoTexture) return;
  const int64_t t = check_face_textures(textures, face_vertices, p.texture_type == kNmrVertex,
                                        p.texture_type == kNmrSurface);
  if (p.texture_type == kNmrVolume) {
    const auto n = int64_t(std::lround(std::cbrt(double(t))));
    RENDERERS_CHECK(t >= 1 && n * n * n == t, "volume textures must have N*N*N colours per face, got ", t);
  }
}

at::Tensor rasterize_textures_or_empty(const at::Tensor& textures, const RasterizeParams& p) {
  return p.texture_type == kNmrNoTexture ? at::Tensor() : textures.contiguous();
}

HardForwardInputs prepare_hard_forward(const at::Tensor& face_vertices_in, const at::Tensor& textures_in,
                                       const RasterizeParams& params) {
  check_rasterize_params(params);
  check_rasterize_inputs(face_vertices_in, textures_in, params);
  HardForwardInputs in;
  in.face_vertices = face_vertices_in.contiguous();
  in.textures = rasterize_textures_or_empty(textures_in, params);
  // Uninitialised: every forward (CPU and CUDA) writes every value of every pixel.
  const int64_t batch = in.face_vertices.size(0), size = params.image_size;
  const auto options = in.face_vertices.options();
  in.outputs = {at::empty({batch, 4, size, size}, options), at::empty({batch, size, size}, options.dtype(at::kInt)),
                at::empty({batch, size, size, 3}, options), at::empty({batch, size, size}, options)};
  return in;
}

void check_face_index(const at::Tensor& face_index, const at::Tensor& face_vertices, int64_t batch, int64_t size) {
  RENDERERS_CHECK(face_index.defined() && face_index.scalar_type() == at::kInt &&
                      face_index.device() == face_vertices.device() && face_index.dim() == 3 &&
                      face_index.size(0) == batch && face_index.size(1) == size && face_index.size(2) == size,
                  "face_index must be int32 (B, S, S) on ", face_vertices.device(), ", got ",
                  face_index.defined() ? face_index.scalar_type() : at::ScalarType::Undefined, " ",
                  face_index.defined() ? face_index.sizes() : at::IntArrayRef());
}

HardBackwardInputs prepare_hard_backward(const at::Tensor& face_vertices_in, const at::Tensor& textures_in,
                                         const at::Tensor& image_in, const at::Tensor& face_index_in,
                                         const at::Tensor& grad_image_in, const RasterizeParams& params) {
  check_rasterize_params(params);
  check_rasterize_inputs(face_vertices_in, textures_in, params);
  HardBackwardInputs in;
  in.face_vertices = face_vertices_in.contiguous();
  in.textures = rasterize_textures_or_empty(textures_in, params);
  in.batch = in.face_vertices.size(0);
  in.size = params.image_size;
  check_images(image_in, grad_image_in, in.face_vertices, in.batch, in.size);
  check_face_index(face_index_in, in.face_vertices, in.batch, in.size);
  in.image = image_in.contiguous();
  in.grad_image = grad_image_in.contiguous();
  in.face_index = face_index_in.contiguous();
  in.grad_face_vertices = at::zeros_like(in.face_vertices);
  in.grad_textures = in.textures.defined() ? at::zeros_like(in.textures) : at::Tensor();
  return in;
}

std::vector<at::Tensor> rasterize_forward(const at::Tensor& face_vertices_in, const at::Tensor& textures_in,
                                          const RasterizeParams& params) {
  HardForwardInputs in = prepare_hard_forward(face_vertices_in, textures_in, params);
  std::vector<at::Tensor>& out = in.outputs;
  if (in.face_vertices.size(0) == 0) return out;
  if (params.emulate_cuda) {
    RENDERERS_CHECK(in.face_vertices.device().is_cpu(), "emulate_cuda runs on CPU tensors only");
    rasterize_forward_emulated(in.face_vertices, in.textures, params, out[0], out[1], out[2], out[3]);
    return out;
  }
  RENDERERS_DISPATCH_DEVICE(in.face_vertices, rasterize_forward, in.face_vertices, in.textures, params, out[0], out[1],
                            out[2], out[3]);
  return out;
}

}  // namespace renderers
