// The CPU z-buffer shared by the hard rasterizers (NMR's forward, OpenDR's forward): all
// cores through at::parallel_for, deterministic.
//
// Work items are (image, band of rows). Within a band the faces are z-buffered in index order
// over the exact pixel spans of their bounding boxes (the same comparisons as nearest_face, so
// the same winners as the CUDA forward), then the caller finishes the band (shades its pixels,
// draws lines over it, ...), writing only that band's pixels.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "rasterize_kernel.h"

namespace renderers {

// Set-up of all B * F faces (face_vertices (B * F, 9)) into setups, in parallel.
template <typename T>
void setup_hard_faces_cpu(const T* faces, int64_t count, const HardKernelParams<T>& p, HardFace<T>* setups) {
  at::parallel_for(0, count, 2048, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) setups[i] = setup_hard_face(faces + 9 * i, p);
  });
}

// One band's z-buffer: for row r in [row_begin, row_end) and column c, best[(r - row_begin) * S + c]
// is the nearest face (-1: none) and depth[...] its depth (unset where best is -1).
template <typename T>
struct ZBand {
  int64_t image;
  int row_begin, row_end;
  const int* best;
  const T* depth;
};

// Calls finish(const ZBand<T>&) for every (image, band) item, in parallel.
template <typename T, class Finish>
void zbuffer_bands(const HardFace<T>* setups, int64_t batch, const HardKernelParams<T>& p, const Finish& finish) {
  const int size = p.size, num_faces = p.num_faces;
  std::vector<T> xs(size);
  for (int c = 0; c < size; ++c) xs[c] = pixel_x<T>(c, size);
  const int64_t threads = at::get_num_threads();
  const int bands = int(std::clamp<int64_t>((4 * threads + batch - 1) / std::max<int64_t>(batch, 1), 1, size));
  const int rows_per_band = (size + bands - 1) / bands;
  at::parallel_for(0, batch * bands, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> zbuf(size_t(rows_per_band) * size);
    std::vector<int> best(size_t(rows_per_band) * size);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / bands;
      const int row_begin = int(item % bands) * rows_per_band;
      const int row_end = std::min(size, row_begin + rows_per_band);
      if (row_begin >= row_end) continue;
      std::fill(best.begin(), best.end(), -1);
      const HardFace<T>* image_faces = setups + b * num_faces;
      for (int fi = 0; fi < num_faces; ++fi) {
        const HardFace<T>& f = image_faces[fi];
        if (!f.drawable) continue;
        int r0, r1, c0, c1;
        exact_span(f.ymin, f.ymax, size, true, r0, r1);
        r0 = std::max(r0, row_begin);
        r1 = std::min(r1, row_end - 1);
        if (r0 > r1) continue;
        exact_span(f.xmin, f.xmax, size, false, c0, c1);
        for (int r = r0; r <= r1; ++r) {
          const T py = pixel_y<T>(r, size);
          const int64_t offset = int64_t(r - row_begin) * size;
          for (int c = c0; c <= c1; ++c) {
            T z;
            if (!hard_depth_at(f, p, xs[c], py, z)) continue;
            int& winner = best[offset + c];
            if (winner < 0 || z < zbuf[offset + c]) {
              winner = fi;
              zbuf[offset + c] = z;
            }
          }
        }
      }
      finish(ZBand<T>{b, row_begin, row_end, best.data(), zbuf.data()});
    }
  });
}

}  // namespace renderers
