// Soft Rasterizer (Liu et al. 2019): entry points. Shapes are documented once, here.
//
// Inputs
//   face_vertices  (B, F, 3, 3) float32/float64: per face, per vertex (x_ndc, y_ndc, z_depth),
//                  after the camera and perspective transforms (see renderers/camera.py).
//   textures       (B, F, T, 3): per face either T = R*R surface colours (texture_type 0,
//                  sampled on a triangular grid by the clipped barycentrics) or T = 3
//                  per-vertex colours (texture_type 1, interpolated). Ignored (may be an
//                  empty tensor) when aggr_rgb is kNone.
// Outputs of the forward
//   image          (B, 4, S, S): RGB (zero when aggr_rgb is kNone) and alpha; row 0 is the top.
//   aux            (B, 3, S, S): what the backward needs per pixel:
//                  [0] prod(1 - D_j) (alpha "prod"), [1] the running maximum of the
//                  normalised depth ("softmax") or the winning depth ("hard"), [2] the softmax
//                  normaliser ("softmax") or the winning face index ("hard").
// Outputs of the backward
//   grad_face_vertices (B, F, 3, 3), grad_textures (B, F, T, 3) (empty when aggr_rgb is kNone).
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <vector>

namespace renderers {

enum SoftDistance : int { kEuclidean = 0, kBarycentric = 1 };
enum SoftAlphaAggregation : int { kAlphaProd = 0, kAlphaSum = 1, kAlphaHard = 2 };
enum SoftRgbAggregation : int { kRgbSoftmax = 0, kRgbHard = 1, kRgbNone = 2 };
enum TextureType : int { kSurfaceTexture = 0, kVertexTexture = 1 };

// Everything the kernels need besides the tensors.
struct SoftRasParams {
  int image_size = 64;
  double sigma = 1e-5;         // sharpness of the coverage sigmoid (NDC^2 units)
  double gamma = 1e-4;         // temperature of the depth softmax
  double dist_eps = 1e-4;      // faces whose coverage would be below this are skipped
  double near = 1.0;
  double far = 100.0;
  double eps = 1e-3;           // normalised depth of the background in the softmax
  // Bound to Python as enums named by the options' strings (bindings.cpp): SoftDistance
  // (euclidean, barycentric), SoftAlphaAggregation (prod, sum, hard), SoftRgbAggregation
  // (softmax, hard, none), SoftTextureType (surface, vertex).
  SoftDistance dist_func = kEuclidean;
  SoftAlphaAggregation aggr_alpha = kAlphaProd;
  SoftRgbAggregation aggr_rgb = kRgbSoftmax;
  TextureType texture_type = kSurfaceTexture;
  bool double_sided = true;
  std::array<double, 3> background = {0.0, 0.0, 0.0};
  bool emulate_cuda = false;   // run the CUDA launch sequence serially on CPU tensors (tests)

  // Squared-distance threshold T = sigma * log(1 / dist_eps - 1) beyond which a face is culled.
  double cull_threshold() const;
};

std::vector<at::Tensor> soft_rasterize_forward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                               const SoftRasParams& params);
std::vector<at::Tensor> soft_rasterize_backward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                                const at::Tensor& image, const at::Tensor& aux,
                                                const at::Tensor& grad_image, const SoftRasParams& params);

// Device implementations; inputs are validated and outputs allocated by the callers above.
void soft_rasterize_forward_cpu(const at::Tensor& face_vertices, const at::Tensor& textures,
                                const SoftRasParams& params, at::Tensor& image, at::Tensor& aux);
void soft_rasterize_backward_cpu(const at::Tensor& face_vertices, const at::Tensor& textures,
                                 const at::Tensor& image, const at::Tensor& aux, const at::Tensor& grad_image,
                                 const SoftRasParams& params, at::Tensor& grad_face_vertices,
                                 at::Tensor& grad_textures);
// The CUDA launch sequence run serially on CPU tensors (soft_rasterize_launch.h); image and aux
// must be zero-filled, as on CUDA.
void soft_rasterize_forward_emulated(const at::Tensor& face_vertices, const at::Tensor& textures,
                                     const SoftRasParams& params, at::Tensor& image, at::Tensor& aux);
void soft_rasterize_backward_emulated(const at::Tensor& face_vertices, const at::Tensor& textures,
                                      const at::Tensor& image, const at::Tensor& aux, const at::Tensor& grad_image,
                                      const SoftRasParams& params, at::Tensor& grad_face_vertices,
                                      at::Tensor& grad_textures);
#ifdef WITH_CUDA
void soft_rasterize_forward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures,
                                 const SoftRasParams& params, at::Tensor& image, at::Tensor& aux);
void soft_rasterize_backward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures,
                                  const at::Tensor& image, const at::Tensor& aux, const at::Tensor& grad_image,
                                  const SoftRasParams& params, at::Tensor& grad_face_vertices,
                                  at::Tensor& grad_textures);
#endif

}  // namespace renderers
