// Hard (z-buffer) rasterization: the maps and the image that the Neural 3D Mesh Renderer and
// OpenDR share. The gradient rules live in their own ops (kato/ for NMR, opendr/ for OpenDR).
// Shapes are documented once, here.
//
// Inputs
//   face_vertices  (B, F, 3, 3) float32/float64: per face, per vertex (x_ndc, y_ndc, z_depth),
//                  after the camera and perspective transforms (see renderers/camera.py).
//   textures       (B, F, T, 3) per face: T = R*R surface colours (texture_type kSurface,
//                  the SoftRas triangular grid), T = 3 per-corner colours (kVertex,
//                  interpolated), or T = N^3 colours of an N x N x N grid (kVolume, sampled
//                  trilinearly at (w0, w1, w2) * (N - 1), index (i0 * N + i1) * N + i2).
//                  All sampled with perspective-corrected barycentrics. Ignored (may be
//                  empty) for kNoTexture (silhouette only).
// Outputs of the forward (S = params.image_size, the rasterization resolution)
//   image          (B, 4, S, S): RGB (zero for kNoTexture; background where empty) and alpha
//                  (1 where covered); row 0 is the top.
//   face_index     (B, S, S) int32: the visible face at each pixel centre, -1 where empty.
//   weights        (B, S, S, 3): its perspective-corrected barycentrics (0 where empty).
//   depth          (B, S, S): its perspective-correct depth (`far` where empty).
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <vector>

namespace renderers {

enum NmrTextureType : int { kNmrSurface = 0, kNmrVertex = 1, kNmrVolume = 2, kNmrNoTexture = 3 };

// Everything the kernels need besides the tensors.
struct RasterizeParams {
  int image_size = 64;  // rasterization resolution (already doubled for anti-aliasing)
  double near = 0.1;
  double far = 100.0;
  double eps = 1e-3;    // Kato's gradient: displacements are kept at least this far from 0
  NmrTextureType texture_type = kNmrNoTexture;  // Python: RasterTextureType (surface, vertex, volume, none)
  bool double_sided = true;
  std::array<double, 3> background = {0.0, 0.0, 0.0};
  bool emulate_cuda = false;  // CPU tensors only: run the CUDA launch sequence serially (tests)
};

std::vector<at::Tensor> rasterize_forward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                          const RasterizeParams& params);

// Shared by the entry points of the ops built on these maps (rasterize, kato, opendr).
void check_rasterize_params(const RasterizeParams& params);
void check_rasterize_inputs(const at::Tensor& face_vertices, const at::Tensor& textures,
                            const RasterizeParams& params);
// textures.contiguous(), or an undefined tensor for kNoTexture.
at::Tensor rasterize_textures_or_empty(const at::Tensor& textures, const RasterizeParams& params);
// What every forward over these maps receives, checked and contiguous, with its outputs
// (image, face_index, weights, depth) allocated uninitialised: every forward writes every value.
struct HardForwardInputs {
  at::Tensor face_vertices, textures;
  std::vector<at::Tensor> outputs;
};
HardForwardInputs prepare_hard_forward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                       const RasterizeParams& params);
// Colours per face of a (B, F, T, 3) texture tensor (T), 0 when undefined (silhouettes).
inline int rasterize_texture_size(const at::Tensor& textures) {
  return textures.defined() && textures.dim() == 4 ? int(textures.size(2)) : 0;
}
// face_index (B, S, S) int32 on face_vertices' device.
void check_face_index(const at::Tensor& face_index, const at::Tensor& face_vertices, int64_t batch, int64_t size);

// What every backward over the forward's maps receives, checked and contiguous, with its
// zeroed gradients (grad_textures undefined for silhouettes).
struct HardBackwardInputs {
  at::Tensor face_vertices, textures, image, face_index, grad_image;
  at::Tensor grad_face_vertices, grad_textures;
  int64_t batch, size;
};
HardBackwardInputs prepare_hard_backward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                         const at::Tensor& image, const at::Tensor& face_index,
                                         const at::Tensor& grad_image, const RasterizeParams& params);

// Device implementations; inputs are validated and outputs allocated by the callers above.
void rasterize_forward_cpu(const at::Tensor& face_vertices, const at::Tensor& textures,
                           const RasterizeParams& params, at::Tensor& image, at::Tensor& face_index,
                           at::Tensor& weights, at::Tensor& depth);
// The CUDA launch sequence (rasterize_launch.h) run serially on CPU tensors.
void rasterize_forward_emulated(const at::Tensor& face_vertices, const at::Tensor& textures,
                                const RasterizeParams& params, at::Tensor& image, at::Tensor& face_index,
                                at::Tensor& weights, at::Tensor& depth);
#ifdef WITH_CUDA
void rasterize_forward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures,
                            const RasterizeParams& params, at::Tensor& image, at::Tensor& face_index,
                            at::Tensor& weights, at::Tensor& depth);
#endif

}  // namespace renderers
