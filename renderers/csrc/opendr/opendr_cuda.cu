// OpenDR on CUDA: launch code only. The launch sequences and per-thread kernels are in
// opendr_kernel.h (set-up per face, boundary edges per image, one thread per pixel for the
// z-buffer and overdraw, one per pixel for the image gradient, one per face for the vertex and
// texture gradients); no atomics, deterministic. The CPU runs the same sequences serially in
// the tests (opendr_forward_emulated / opendr_backward_emulated).
#include "../common/launch_cuda.cuh"
#include "opendr_args.h"

namespace renderers {
namespace {

// An uninitialised device buffer of n objects of type O (at least one).
template <typename O>
O* scratch(at::Tensor& holder, const at::Tensor& like, int64_t n) {
  holder = at::empty({int64_t(sizeof(O)) * (n > 0 ? n : 1)}, like.options().dtype(at::kByte));
  return reinterpret_cast<O*>(holder.data_ptr<uint8_t>());
}

}  // namespace

void opendr_forward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& edges,
                         int64_t edge_batch_stride, const OpenDRParams& params, at::Tensor& image,
                         at::Tensor& face_index, at::Tensor& weights, at::Tensor& depth, at::Tensor& mask) {
  const int64_t batch = face_vertices.size(0);
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "opendr_forward_cuda", [&] {
    using T = scalar_t;
    const auto p = opendr_kernel_params<T>(face_vertices, textures, edges, edge_batch_stride, params);
    at::Tensor setups, lines, counts;
    opendr_forward_launch(
        CudaLauncher{},
        opendr_forward_args(face_vertices, textures, edges, p,
                            scratch<HardFace<T>>(setups, face_vertices, batch * p.hard.num_faces),
                            scratch<EdgeLine<T>>(lines, face_vertices, p.overdraw ? batch * p.num_edges : 0),
                            scratch<int32_t>(counts, face_vertices, batch), image, face_index, weights, depth, mask));
  });
}

void opendr_backward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                          const at::Tensor& face_index, const at::Tensor& weights, const at::Tensor& mask,
                          const at::Tensor& grad_image, const OpenDRParams& params, at::Tensor& grad_face_vertices,
                          at::Tensor& grad_textures) {
  at::Tensor gradient = opendr_gradient_scratch(face_vertices, params);
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "opendr_backward_cuda", [&] {
    opendr_backward_launch(CudaLauncher{},
                           opendr_backward_args<scalar_t>(face_vertices, textures, image, face_index, weights, mask,
                                                          grad_image, params, gradient, grad_face_vertices,
                                                          grad_textures));
  });
}

}  // namespace renderers
