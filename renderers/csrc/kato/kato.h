// Kato et al.'s approximate rasterization gradient (the Neural 3D Mesh Renderer's backward):
// entry points. The inputs are the hard rasterizer's (rasterize/rasterize.h, where shapes are
// documented) plus:
//   image, face_index  the forward's image (B, 4, S, S) and face-index map (B, S, S) int32
//   grad_image         dL/dimage (B, 4, S, S)
// Outputs
//   grad_face_vertices (B, F, 3, 3): Kato's approximate gradient for x and y, plus the exact
//                  gradient of the colour through the barycentrics (x, y and z);
//   grad_textures  (B, F, T, 3) (empty for kNoTexture).
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "../rasterize/rasterize.h"

namespace renderers {

std::vector<at::Tensor> kato_backward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                      const at::Tensor& image, const at::Tensor& face_index,
                                      const at::Tensor& grad_image, const RasterizeParams& params);

void kato_backward_cpu(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                       const at::Tensor& face_index, const at::Tensor& grad_image, const RasterizeParams& params,
                       at::Tensor& grad_face_vertices, at::Tensor& grad_textures);
// The CUDA launch sequence (kato_launch.h) run serially on CPU tensors.
void kato_backward_emulated(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                            const at::Tensor& face_index, const at::Tensor& grad_image, const RasterizeParams& params,
                            at::Tensor& grad_face_vertices, at::Tensor& grad_textures);
#ifdef WITH_CUDA
void kato_backward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                        const at::Tensor& face_index, const at::Tensor& grad_image, const RasterizeParams& params,
                        at::Tensor& grad_face_vertices, at::Tensor& grad_textures);
#endif

}  // namespace renderers
