// The launch of the tile binning (tile_bins.h) over any launcher (common/launch.h).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <tuple>

#include "tile_bins.h"

namespace renderers {

// The faces of every tile: tile t of image b holds faces[offsets[t] .. offsets[t + 1]) (t =
// (b * tiles + row) * tiles + col). The tensors own the storage.
struct TileBins {
  at::Tensor counts, offsets, faces;
  const int64_t* offsets_ptr() const { return offsets.data_ptr<int64_t>(); }
  const int32_t* faces_ptr() const { return faces.data_ptr<int32_t>(); }
};

// Bins the faces of `batch` images of `num_faces` faces whose rectangles `rects` (B * F, on the
// device of `like`) hold; one host read (the total, to size the list).
template <class Launcher>
TileBins bin_faces_in_tiles(const Launcher& launch, const TileRect* rects, int64_t batch, int num_faces, int tiles,
                            const at::Tensor& like) {
  const auto int_options = like.options().dtype(at::kInt);
  TileBins bins;
  const int64_t tile_count = batch * tiles * tiles;
  bins.counts = at::empty({tile_count}, int_options);
  TileBinArgs a{rects, bins.counts.data_ptr<int32_t>(), nullptr, nullptr, num_faces, tiles};
  launch(batch * tiles, TileBinKernel<false>{a});
  bins.offsets = at::zeros({tile_count + 1}, like.options().dtype(at::kLong));
  bins.offsets.narrow(0, 1, tile_count).copy_(at::cumsum(bins.counts, 0, at::kLong));
  const int64_t total = bins.offsets[-1].item<int64_t>();
  bins.faces = at::empty({total > 0 ? total : 1}, int_options);
  a.tile_offsets = bins.offsets.data_ptr<int64_t>();
  a.tile_faces = bins.faces.data_ptr<int32_t>();
  launch(batch * tiles, TileBinKernel<true>{a});
  return bins;
}

// For tests: the binning of rects (B * F, 4) int32 CPU rows (c0, c1, r0, r1), run serially;
// returns (offsets (B * tiles * tiles + 1) int64, faces int32).
std::tuple<at::Tensor, at::Tensor> tile_bins_emulated(const at::Tensor& rects, int64_t batch, int64_t num_faces,
                                                      int64_t tiles);

}  // namespace renderers
