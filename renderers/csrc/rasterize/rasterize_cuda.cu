// Hard rasterization on CUDA: launch code only. The launch sequence is rasterize_launch.h, its
// per-thread kernels rasterize_kernel.h (one thread per face for the set-up, one per pixel over
// all faces in order, the same comparisons as the CPU's face-major z-buffer).
#include "../common/launch_cuda.cuh"
#include "rasterize.h"
#include "rasterize_launch.h"

namespace renderers {

void rasterize_forward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures,
                            const RasterizeParams& params, at::Tensor& image, at::Tensor& face_index,
                            at::Tensor& weights, at::Tensor& depth) {
  rasterize_forward_launch(CudaLauncher{}, face_vertices, textures, params, image, face_index, weights, depth);
}

}  // namespace renderers
