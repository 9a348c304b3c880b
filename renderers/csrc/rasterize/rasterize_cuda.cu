// Hard rasterization on CUDA: launch code only. The per-thread kernels are in
// rasterize_kernel.h (one thread per face for the set-up, one per pixel over all faces in
// order, the same comparisons as the CPU's face-major z-buffer).
#include "../common/dispatch.h"
#include "../common/launch_cuda.cuh"
#include "rasterize.h"
#include "rasterize_kernel.h"

namespace renderers {

void rasterize_forward_cuda(const at::Tensor& face_vertices, const at::Tensor& textures,
                            const RasterizeParams& params, at::Tensor& image, at::Tensor& face_index,
                            at::Tensor& weights, at::Tensor& depth) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  const int texture_size = rasterize_texture_size(textures);
  const int64_t count = batch * num_faces;
  const CudaLauncher launch;
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "rasterize_forward_cuda", [&] {
    const auto p = make_hard_params<scalar_t>(params, num_faces, texture_size);
    at::Tensor holder;
    auto* setups_ptr = scratch_buffer<HardFace<scalar_t>>(holder, face_vertices, count);
    launch(count, HardSetupKernel<scalar_t>{face_vertices.data_ptr<scalar_t>(), setups_ptr, p});
    launch(batch * int64_t(p.size) * p.size,
           HardForwardPixelKernel<scalar_t>{setups_ptr, texture_size > 0 ? textures.data_ptr<scalar_t>() : nullptr,
                                            image.data_ptr<scalar_t>(), face_index.data_ptr<int32_t>(),
                                            weights.data_ptr<scalar_t>(), depth.data_ptr<scalar_t>(), p});
  });
}

}  // namespace renderers
