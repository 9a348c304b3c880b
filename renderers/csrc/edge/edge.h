// Edge sampling (Li et al. 2018), primary visibility: entry points. Shapes are documented once,
// here (face_vertices, textures: see rasterize/rasterize.h; edges: see opendr/opendr.h).
//
// Textures: kNmrVertex (per-corner colours, interpolated), kNmrSurface with R = 1 (one flat colour
// per face) or kNmrNoTexture (silhouette). Surface textures with R > 1 and volumes have colour
// discontinuities inside faces that the boundary term does not sample: they are refused.
//
// Outputs of the forward (S = params.image_size, n = params.samples_per_side)
//   image          (B, 4, S, S): the box-filtered RGBA estimated by n x n jittered area samples.
//   sample_face    (B, S, S, n * n) int32: the face each area sample took (-1: background).
// Inputs of the backward: the forward's inputs, the edge table, sample_face and grad_image
// (B, 4, S, S); the same seed must be given (it places the area samples).
// Outputs of the backward
//   grad_face_vertices (B, F, 3, 3): interior term (x, y, z) plus boundary term (x, y);
//   grad_textures  (B, F, T, 3) (undefined for silhouettes).
//
// Shadows (edge_shadow_forward / edge_shadow_backward; shadow_kernel.h): `textures` are the
// ambient parts of the lit colours and three more inputs describe the light:
//   directional    (B, F, T, 3): the directional parts (shadowed per sample),
//   world          (B, F, 3, 3): the faces' world corners (shadow rays, the secondary term),
//   light          (B, 3): the unit direction toward the light, world coordinates.
// The forward also returns sample_lit (B, S, S, n * n) uint8, each area sample's visibility; the
// backward returns the gradients of face_vertices, textures, directional, world and light.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "../rasterize/rasterize.h"

namespace renderers {

struct EdgeParams : RasterizeParams {
  int samples_per_side = 2;   // area samples per pixel: samples_per_side^2, at most 8^2
  int64_t edge_samples = 4096;  // boundary samples per image (N)
  int64_t seed = 0;           // the counter-based generator's key (common/random.h)
  double offset = 1e-3;       // evaluation offset either side of an edge, in pixels, in (0, 0.5]
  bool emulate_cuda = false;  // CPU tensors only: run the CUDA launch sequence serially (tests)
  // Shadows (read by the edge_shadow_* entry points only)
  int64_t shadow_samples = 4096;  // secondary boundary samples per image
  double shadow_bias = 1e-5;      // self-shadowing offset, relative to the scene's extent
};

std::vector<at::Tensor> edge_forward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                     const EdgeParams& params);
std::vector<at::Tensor> edge_backward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                      const at::Tensor& edges, const at::Tensor& sample_face,
                                      const at::Tensor& grad_image, const EdgeParams& params);
std::vector<at::Tensor> edge_shadow_forward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                            const at::Tensor& directional, const at::Tensor& world,
                                            const at::Tensor& light, const EdgeParams& params);
std::vector<at::Tensor> edge_shadow_backward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                             const at::Tensor& directional, const at::Tensor& world,
                                             const at::Tensor& light, const at::Tensor& edges,
                                             const at::Tensor& sample_face, const at::Tensor& sample_lit,
                                             const at::Tensor& grad_image, const EdgeParams& params);
// random_uniform(seed, stream, counter) of common/random.h for int64 counters (CPU), as float64.
at::Tensor edge_random_uniform(int64_t seed, int64_t stream, const at::Tensor& counters);

// Everything the device implementations receive, checked, contiguous and allocated.
// With shadows, `shadows` is set and the light's tensors are defined.
struct EdgeShadowTensors {
  bool shadows = false;
  at::Tensor directional, world, light;
};
struct EdgeForwardTensors {
  at::Tensor face_vertices, textures, image, sample_face;
  EdgeShadowTensors light;
  at::Tensor sample_lit;  // shadows only
};
struct EdgeBackwardTensors {
  at::Tensor face_vertices, textures, edges, corners, sample_face, grad_image;
  at::Tensor grad_face_vertices, grad_textures;
  int64_t edge_stride = 0, corner_stride = 0;
  EdgeShadowTensors light;
  at::Tensor sample_lit, grad_directional, grad_world, grad_light;  // shadows only
};

void edge_forward_cpu(EdgeForwardTensors& t, const EdgeParams& params);
void edge_backward_cpu(EdgeBackwardTensors& t, const EdgeParams& params);
void edge_forward_emulated(EdgeForwardTensors& t, const EdgeParams& params);
void edge_backward_emulated(EdgeBackwardTensors& t, const EdgeParams& params);
#ifdef WITH_CUDA
void edge_forward_cuda(EdgeForwardTensors& t, const EdgeParams& params);
void edge_backward_cuda(EdgeBackwardTensors& t, const EdgeParams& params);
#endif

}  // namespace renderers
