// OpenDR on CUDA: launch code only. The launch sequences and per-thread kernels are in
// opendr_kernel.h (set-up per face, boundary edges per image, one thread per pixel for the
// z-buffer and overdraw, one per pixel for the image gradient, one per face for the vertex and
// texture gradients); no atomics, deterministic. The CPU runs the same sequences serially in
// the tests (opendr_forward_emulated / opendr_backward_emulated).
#include "../common/launch_cuda.cuh"
#include "opendr_args.h"

namespace renderers {

void opendr_forward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& edges,
                         int64_t edge_batch_stride, const OpenDRParams& params, at::Tensor& image,
                         at::Tensor& face_index, at::Tensor& weights, at::Tensor& depth, at::Tensor& mask) {
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "opendr_forward_cuda", [&] {
    opendr_forward_with_scratch(
        CudaLauncher{}, face_vertices, textures, edges,
        opendr_kernel_params<scalar_t>(face_vertices, textures, edges, edge_batch_stride, params), image, face_index,
        weights, depth, mask);
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
