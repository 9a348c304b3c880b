// The hard rasterizer's CUDA launch sequence, written once over a launcher (common/launch.h):
// one thread per face for the set-up and its tile rectangle, the faces binned in screen tiles of
// kHardTile pixels (common/tile_bins.h), then one thread per pixel over its tile's faces in face
// order (the comparisons of the CPU's face-major z-buffer, over nearby faces only). Run by the
// CUDA launcher (rasterize_cuda.cu) and, for tests without a GPU, serially on CPU tensors
// (rasterize_forward_emulated).
#pragma once

#include <ATen/ATen.h>

#include "../common/dispatch.h"
#include "../common/launch.h"
#include "../common/tile_bins_launch.h"
#include "rasterize.h"
#include "rasterize_kernel.h"

namespace renderers {

template <class Launcher>
void rasterize_forward_launch(const Launcher& launch, const at::Tensor& face_vertices, const at::Tensor& textures,
                              const RasterizeParams& params, at::Tensor& image, at::Tensor& face_index,
                              at::Tensor& weights, at::Tensor& depth) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  const int texture_size = rasterize_texture_size(textures);
  const int64_t count = batch * num_faces;
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "rasterize_forward_launch", [&] {
    const auto p = make_hard_params<scalar_t>(params, num_faces, texture_size);
    at::Tensor holder, rects_holder;
    auto* setups_ptr = scratch_buffer<HardFace<scalar_t>>(holder, face_vertices, count);
    launch(count, HardSetupKernel<scalar_t>{face_vertices.data_ptr<scalar_t>(), setups_ptr, p});
    auto* rects = scratch_buffer<TileRect>(rects_holder, face_vertices, count);
    launch(count, HardFaceRectKernel<scalar_t>{setups_ptr, rects, p.size});
    const int tiles = (p.size + kHardTile - 1) / kHardTile;
    const TileBins bins = bin_faces_in_tiles(launch, rects, batch, num_faces, tiles, face_vertices);
    launch(batch * int64_t(p.size) * p.size,
           HardForwardPixelKernel<scalar_t>{setups_ptr, bins.faces_ptr(), bins.offsets_ptr(), tiles,
                                            texture_size > 0 ? textures.data_ptr<scalar_t>() : nullptr,
                                            image.data_ptr<scalar_t>(), face_index.data_ptr<int32_t>(),
                                            weights.data_ptr<scalar_t>(), depth.data_ptr<scalar_t>(), p});
  });
}

}  // namespace renderers
