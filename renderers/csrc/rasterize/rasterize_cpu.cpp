// Hard rasterization on the CPU: the shared band z-buffer (zbuffer_cpu.h), then each pixel of
// the band is shaded once. All cores, deterministic.
#include <cstdint>

#include "../common/dispatch.h"
#include "rasterize.h"
#include "rasterize_kernel.h"
#include "zbuffer_cpu.h"

namespace renderers {
namespace {

template <typename T>
void forward_impl(const at::Tensor& face_vertices, const at::Tensor& textures, const RasterizeParams& params,
                  at::Tensor& image, at::Tensor& face_index, at::Tensor& weights, at::Tensor& depth) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  const int texture_size = rasterize_texture_size(textures);
  const HardKernelParams<T> p = make_hard_params<T>(params, num_faces, texture_size);
  const int size = p.size;
  const int64_t plane = int64_t(size) * size;
  const T* textures_ptr = texture_size > 0 ? textures.data_ptr<T>() : nullptr;
  T* image_ptr = image.data_ptr<T>();
  int32_t* index_ptr = face_index.data_ptr<int32_t>();
  T* weights_ptr = weights.data_ptr<T>();
  T* depth_ptr = depth.data_ptr<T>();
  at::Tensor holder;
  HardFace<T>* setups = scratch_buffer<HardFace<T>>(holder, face_vertices, batch * num_faces);
  setup_hard_faces_cpu(face_vertices.data_ptr<T>(), batch * num_faces, p, setups);
  zbuffer_bands(setups, batch, p, [&](const ZBand<T>& band) {
    const int64_t b = band.image;
    const T* image_textures = textures_ptr ? textures_ptr + b * num_faces * texture_size * 3 : nullptr;
    for (int r = band.row_begin; r < band.row_end; ++r)
      for (int c = 0; c < size; ++c)
        write_hard_pixel(setups + b * num_faces, image_textures, p, r, c,
                         band.best[int64_t(r - band.row_begin) * size + c], image_ptr + b * 4 * plane,
                         index_ptr + b * plane, weights_ptr + b * 3 * plane, depth_ptr + b * plane);
  });
}

}  // namespace

void rasterize_forward_cpu(const at::Tensor& face_vertices, const at::Tensor& textures,
                           const RasterizeParams& params, at::Tensor& image, at::Tensor& face_index,
                           at::Tensor& weights, at::Tensor& depth) {
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "rasterize_forward_cpu", [&] {
    forward_impl<scalar_t>(face_vertices, textures, params, image, face_index, weights, depth);
  });
}

}  // namespace renderers
