// SoftRas on CUDA: launch code only. The launch sequence and its per-thread kernels are in
// soft_rasterize_launch.h (the math in soft_rasterize_kernel.h, shared with the CPU): one
// thread per face for the set-up and its tile rectangle, the tile binning, one per pixel over
// its tile's faces in face order for the forward, one per face over its own pixels for the
// backward. No atomics, deterministic. The CPU runs the
// same sequence serially in the tests (soft_rasterize_forward_emulated / _backward_emulated).
#include "../common/launch_cuda.cuh"
#include "soft_rasterize.h"
#include "soft_rasterize_launch.h"

namespace renderers {

void soft_rasterize_forward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures,
                                 const SoftRasParams& params, at::Tensor& image, at::Tensor& aux) {
  soft_rasterize_forward_launch(CudaLauncher{}, face_vertices, textures, params, image, aux);
}

void soft_rasterize_backward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures,
                                  const at::Tensor& image, const at::Tensor& aux, const at::Tensor& grad_image,
                                  const SoftRasParams& params, at::Tensor& grad_face_vertices,
                                  at::Tensor& grad_textures) {
  soft_rasterize_backward_launch(CudaLauncher{}, face_vertices, textures, image, aux, grad_image, params,
                                 grad_face_vertices, grad_textures);
}

}  // namespace renderers
