// Host-side assembly of the OpenDR kernels' arguments from tensors, shared by the CPU and CUDA
// implementations (the scratch pointers are the caller's).
#pragma once

#include <ATen/ATen.h>

#include "../common/dispatch.h"
#include "opendr.h"
#include "opendr_kernel.h"

namespace renderers {

template <typename T>
OpenDRKernelParams<T> opendr_kernel_params(const at::Tensor& face_vertices, const at::Tensor& textures,
                                           const at::Tensor& edges, int64_t edge_batch_stride,
                                           const OpenDRParams& params) {
  const int num_edges = edges.defined() && edges.dim() >= 2 ? int(edges.size(-2)) : 0;
  return make_opendr_params<T>(params, params.overdraw, int(face_vertices.size(1)), rasterize_texture_size(textures),
                               num_edges, edge_batch_stride);
}

template <typename T>
OpenDRForwardArgs<T> opendr_forward_args(const at::Tensor& face_vertices, const at::Tensor& textures,
                                         const at::Tensor& edges, const OpenDRKernelParams<T>& p,
                                         HardFace<T>* setups, EdgeLine<T>* lines, int32_t* counts, at::Tensor& image,
                                         at::Tensor& face_index, at::Tensor& weights, at::Tensor& depth,
                                         at::Tensor& mask) {
  return OpenDRForwardArgs<T>{face_vertices.data_ptr<T>(),
                              p.hard.texture_size > 0 ? textures.data_ptr<T>() : nullptr,
                              p.num_edges > 0 ? edges.data_ptr<int32_t>() : nullptr,
                              setups,
                              lines,
                              counts,
                              image.data_ptr<T>(),
                              face_index.data_ptr<int32_t>(),
                              weights.data_ptr<T>(),
                              depth.data_ptr<T>(),
                              mask.data_ptr<uint8_t>(),
                              face_vertices.size(0),
                              p};
}

// gradient: a (B, 2, S, S) scratch tensor like face_vertices.
template <typename T>
OpenDRBackwardArgs<T> opendr_backward_args(const at::Tensor& face_vertices, const at::Tensor& textures,
                                           const at::Tensor& image, const at::Tensor& face_index,
                                           const at::Tensor& weights, const at::Tensor& mask,
                                           const at::Tensor& grad_image, const OpenDRParams& params,
                                           at::Tensor& gradient, at::Tensor& grad_face_vertices,
                                           at::Tensor& grad_textures) {
  const int texture_size = rasterize_texture_size(textures);
  return OpenDRBackwardArgs<T>{face_vertices.data_ptr<T>(),
                               texture_size > 0 ? textures.data_ptr<T>() : nullptr,
                               image.data_ptr<T>(),
                               face_index.data_ptr<int32_t>(),
                               weights.data_ptr<T>(),
                               mask.data_ptr<uint8_t>(),
                               grad_image.data_ptr<T>(),
                               gradient.data_ptr<T>(),
                               grad_face_vertices.data_ptr<T>(),
                               texture_size > 0 ? grad_textures.data_ptr<T>() : nullptr,
                               face_vertices.size(0),
                               make_hard_params<T>(params, int(face_vertices.size(1)), texture_size)};
}

// The forward's launch sequence with its scratch buffers allocated on face_vertices' device.
template <typename T, class Launcher>
void opendr_forward_with_scratch(const Launcher& launch, const at::Tensor& face_vertices, const at::Tensor& textures,
                                 const at::Tensor& edges, const OpenDRKernelParams<T>& p, at::Tensor& image,
                                 at::Tensor& face_index, at::Tensor& weights, at::Tensor& depth, at::Tensor& mask) {
  const int64_t batch = face_vertices.size(0);
  at::Tensor setups, lines, counts;
  opendr_forward_launch(
      launch, opendr_forward_args(face_vertices, textures, edges, p,
                                  scratch_buffer<HardFace<T>>(setups, face_vertices, batch * p.hard.num_faces),
                                  scratch_buffer<EdgeLine<T>>(lines, face_vertices,
                                                              p.overdraw ? batch * p.num_edges : 0),
                                  scratch_buffer<int32_t>(counts, face_vertices, batch), image, face_index, weights,
                                  depth, mask),
      face_vertices);
}

// The backward's scratch: (B, 2, S, S) like face_vertices.
inline at::Tensor opendr_gradient_scratch(const at::Tensor& face_vertices, const OpenDRParams& params) {
  return at::empty({face_vertices.size(0), 2, params.image_size, params.image_size}, face_vertices.options());
}

}  // namespace renderers
