// The tile binning run serially on the CPU (tests compare it with a brute-force binning).
#include "tile_bins.h"

#include <tuple>

#include "dispatch.h"
#include "launch.h"
#include "tile_bins_launch.h"

namespace renderers {

std::tuple<at::Tensor, at::Tensor> tile_bins_emulated(const at::Tensor& rects, int64_t batch, int64_t num_faces,
                                                      int64_t tiles) {
  RENDERERS_CHECK(rects.device().is_cpu() && rects.scalar_type() == at::kInt && rects.dim() == 2 &&
                      rects.size(1) == 4 && rects.size(0) == batch * num_faces,
                  "rects must be a CPU int32 tensor (B * F, 4) of (c0, c1, r0, r1) with B * F = ", batch * num_faces,
                  ", got ", rects.sizes(), " ", rects.scalar_type(), " on ", rects.device());
  RENDERERS_CHECK(batch >= 0 && num_faces >= 0 && tiles > 0, "batch, num_faces must be >= 0 and tiles > 0");
  const at::Tensor packed = rects.contiguous();
  const at::Tensor bounded = at::logical_or(packed.select(1, 0) > packed.select(1, 1),
                                            at::logical_and(packed.ge(0).all(1), packed.lt(tiles).all(1)));
  RENDERERS_CHECK(bounded.all().item<bool>(), "non-empty rects must lie in [0, tiles)");
  const TileBins bins = bin_faces_in_tiles(SerialLauncher{}, reinterpret_cast<const TileRect*>(packed.data_ptr<int32_t>()),
                                           batch, int(num_faces), int(tiles), packed);
  return {bins.offsets, bins.faces};
}

}  // namespace renderers
