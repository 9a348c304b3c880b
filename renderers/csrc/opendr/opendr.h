// OpenDR (Loper & Black 2014) as its public code computes it: a z-buffer forward with a
// boundary overdraw, and an approximate backward built from image-space differences.
// Entry points; shapes are documented once, here (face_vertices and textures: see
// rasterize/rasterize.h).
//
// Inputs
//   edges          (E, 6) shared by the batch, or (B, E, 6), int32: one row per mesh edge,
//                  (face_a, slot_a0, slot_a1, face_b, slot_b0, slot_b1). The edge joins face_a's
//                  corners slot_a0 and slot_a1; face_b's corners slot_b0 and slot_b1 hold the
//                  same two vertices in that order. face_b = -1 (slots -1) for a border edge;
//                  face_a = -1 marks a padding row. renderers/topology.py builds them.
// Outputs of the forward (S = params.image_size)
//   image          (B, 4, S, S): RGB (zero for kNoTexture; background where empty) and alpha.
//   face_index     (B, S, S) int32: the face each pixel belongs to, -1 where empty.
//   weights        (B, S, S, 3): its perspective-corrected barycentrics at the pixel (off M)
//                  or at the edge point drawn there (on M).
//   depth          (B, S, S): the depth of that point (`far` where empty).
//   mask           (B, S, S) uint8: 1 on the boundary mask M (overdraw), else 0.
// Outputs of the backward
//   grad_face_vertices (B, F, 3, 3): OpenDR's image-space derivative for x and y (z: 0);
//   grad_textures  (B, F, T, 3) (empty for kNoTexture): exact, through the barycentric weights.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "../rasterize/rasterize.h"

namespace renderers {

struct OpenDRParams : RasterizeParams {
  bool overdraw = true;  // draw the boundary mask M and overdraw it (OpenDR's boundary mode)
};

std::vector<at::Tensor> opendr_forward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                       const at::Tensor& edges, const OpenDRParams& params);
std::vector<at::Tensor> opendr_backward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                        const at::Tensor& image, const at::Tensor& face_index,
                                        const at::Tensor& weights, const at::Tensor& mask,
                                        const at::Tensor& grad_image, const OpenDRParams& params);

// Device implementations; inputs are validated and outputs allocated by the callers above.
// edge_batch_stride: 0 when the edges are shared by the batch, else E * 6.
void opendr_forward_cpu(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& edges,
                        int64_t edge_batch_stride, const OpenDRParams& params, at::Tensor& image,
                        at::Tensor& face_index, at::Tensor& weights, at::Tensor& depth, at::Tensor& mask);
void opendr_backward_cpu(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                         const at::Tensor& face_index, const at::Tensor& weights, const at::Tensor& mask,
                         const at::Tensor& grad_image, const OpenDRParams& params, at::Tensor& grad_face_vertices,
                         at::Tensor& grad_textures);
// The CUDA launch sequences run serially on the CPU (common/launch.h, "emulated launch").
void opendr_forward_emulated(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& edges,
                             int64_t edge_batch_stride, const OpenDRParams& params, at::Tensor& image,
                             at::Tensor& face_index, at::Tensor& weights, at::Tensor& depth, at::Tensor& mask);
void opendr_backward_emulated(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                              const at::Tensor& face_index, const at::Tensor& weights, const at::Tensor& mask,
                              const at::Tensor& grad_image, const OpenDRParams& params,
                              at::Tensor& grad_face_vertices, at::Tensor& grad_textures);
#ifdef WITH_CUDA
void opendr_forward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& edges,
                         int64_t edge_batch_stride, const OpenDRParams& params, at::Tensor& image,
                         at::Tensor& face_index, at::Tensor& weights, at::Tensor& depth, at::Tensor& mask);
void opendr_backward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                          const at::Tensor& face_index, const at::Tensor& weights, const at::Tensor& mask,
                          const at::Tensor& grad_image, const OpenDRParams& params, at::Tensor& grad_face_vertices,
                          at::Tensor& grad_textures);
#endif

}  // namespace renderers
