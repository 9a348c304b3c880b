// Screen-tile bins of faces, written once as per-thread kernels (common/launch.h) for every
// launcher: the CUDA pixel kernels visit only the faces binned in their pixel's tile instead of
// every face of the image, and the emulation runs the same binning on the CPU.
//
// A face's TileRect is the inclusive range of tiles its pixels may touch (computed by the op
// from the face's own box, so that a face is binned in every tile holding a pixel it can reach).
// Thread i = (image b, tile row r) then counts, and after an exclusive prefix sum fills, the faces
// of each tile of its row in ascending face order: a pixel that walks its tile's list meets its
// faces in the order a scan over all faces would, so binned results equal the full scan's bit
// for bit. The launch of the binning (bin_faces_in_tiles) is in tile_bins_launch.h.
#pragma once

#include <cstdint>

#include "macros.h"

namespace renderers {

struct TileRect {
  int c0, c1, r0, r1;  // inclusive tile columns and rows; c0 > c1 when the face is not binned
};

HOST_DEVICE FORCE_INLINE TileRect empty_tile_rect() { return TileRect{1, 0, 1, 0}; }

// The tiles (of `tile` x `tile` pixels) holding pixel rows [r0, r1] and columns [c0, c1]
// (empty when either range is).
HOST_DEVICE FORCE_INLINE TileRect tiles_of_pixel_box(int r0, int r1, int c0, int c1, int tile) {
  if (r0 > r1 || c0 > c1) return empty_tile_rect();
  return TileRect{c0 / tile, c1 / tile, r0 / tile, r1 / tile};
}

// The bin of pixel (row, col) of image b: faces [begin, end) of tile_faces, tiles of `tile` pixels.
HOST_DEVICE FORCE_INLINE void pixel_bin(const int64_t* tile_offsets, int tiles, int tile, int64_t b, int row, int col,
                                        int64_t& begin, int64_t& end) {
  const int64_t t = (b * tiles + row / tile) * tiles + col / tile;
  begin = tile_offsets[t];
  end = tile_offsets[t + 1];
}

struct TileBinArgs {
  const TileRect* rects;        // (B * F)
  int32_t* tile_counts;         // (B, tiles, tiles)
  const int64_t* tile_offsets;  // (B * tiles * tiles + 1), exclusive prefix sums of the counts
  int32_t* tile_faces;          // (total)
  int num_faces, tiles;
};

template <bool kFill>
struct TileBinKernel {
  TileBinArgs a;
  HOST_DEVICE void operator()(int64_t i) const {
    const int64_t b = i / a.tiles;
    const int row = int(i % a.tiles);
    const int64_t first_tile = (b * a.tiles + row) * a.tiles;
    int32_t* counts = a.tile_counts + first_tile;
    for (int c = 0; c < a.tiles; ++c) counts[c] = 0;  // the fill pass counts again, as its cursor
    const TileRect* rects = a.rects + b * a.num_faces;
    for (int fi = 0; fi < a.num_faces; ++fi) {
      const TileRect r = rects[fi];
      if (row < r.r0 || row > r.r1) continue;
      for (int c = r.c0; c <= r.c1; ++c) {
        if (kFill)
          a.tile_faces[a.tile_offsets[first_tile + c] + counts[c]++] = fi;
        else
          ++counts[c];
      }
    }
  }
};

}  // namespace renderers
