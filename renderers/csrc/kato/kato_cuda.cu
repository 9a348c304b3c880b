// Kato's approximate gradient on CUDA: launch code only; the launch sequence is kato_launch.h,
// its per-thread kernels kato_kernel.h and rasterize_kernel.h. No atomics, deterministic.
#include "../common/launch_cuda.cuh"
#include "kato.h"
#include "kato_launch.h"

namespace renderers {

void kato_backward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                        const at::Tensor& face_index, const at::Tensor& grad_image, const RasterizeParams& params,
                        at::Tensor& grad_face_vertices, at::Tensor& grad_textures) {
  kato_backward_launch(CudaLauncher{}, face_vertices, textures, image, face_index, grad_image, params,
                       grad_face_vertices, grad_textures);
}

}  // namespace renderers
