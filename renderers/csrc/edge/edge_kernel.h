// Edge sampling (Li et al. 2018), primary visibility: the per-thread kernels and their launch
// sequences, written once for the CPU (ParallelCpuLauncher), CUDA (CudaLauncher) and the
// emulated launch (SerialLauncher); see common/launch.h. REFERENCE section 8; the plain-PyTorch
// version of the same estimator is renderers/reference/edge.py.
//
// Forward: the box-filtered image of each pixel estimated by n x n jittered (stratified) area
// samples. A sample takes the shading of the nearest drawable face covering that exact point
// (rasterize_kernel.h: the coverage test, perspective-correct barycentrics and depth, the
// near/far range, lowest index on ties) or the background. Faces are binned into screen tiles of
// kEdgeTile x kEdgeTile pixels so that a point visits only the faces whose bounding box spans its
// tile.
//
// Backward = interior + boundary.
//   * Interior: the derivative of each area sample's shading (perspective-correct barycentric
//     interpolation of per-corner colours) with respect to the face's screen vertices and
//     colours, gathered per face over the samples it won (no atomics).
//   * Boundary: about N = edge_samples points per image on the candidate edges, stratified
//     along and across pixels. The clipped part of edge e is cut by the pixel grid into K_e
//     pieces (on each, the adjoint is constant); each piece gets q_e equal strata,
//     q_e = max(1, ceil(N w_e / (2 W K_e))), w_e the clipped length l_e (times kUnseenWeight when
//     neither of the edge's faces took an area sample), W = sum w_e, and each stratum an
//     antithetic pair of samples (u and 1 - u of it), each standing for half the stratum's
//     length h. Each sample alone is uniform on its stratum, so the estimate is unbiased for any
//     allocation that samples every piece; the pixel-aligned strata remove the adjoint's jumps
//     from the variance and the pairs integrate the linear (1 - t) weights exactly, which leaves
//     only occlusion boundaries inside a stratum. At point p
//     (parameter t from a to b) with unit screen normal n, f_in = shade(p - delta n),
//     f_out = shade(p + delta n), and endpoint a receives
//     adj(pixel of p) . (f_in - f_out) * (1 - t) n * (h / 2) / A_pix (b: t instead of 1 - t), i.e.
//     the REFERENCE form with l_clip / (pmf(e) N) = h / 2. Samples of one edge are consecutive, so each
//     edge sums its own range and each face corner the edges it owns: deterministic, no atomics.
//   Candidate edges: a padding row never; a border edge of a drawable face; an edge between a
//   drawable and a non-drawable face; an edge between two drawable faces facing opposite ways
//   (signs of their screen areas) or, with colours, whose colours differ across it (with shadows:
//   either part of them) or, with shadows, that is a silhouette seen from the light.
#pragma once

#include <cstdint>

#include "../common/geometry.h"
#include "../common/macros.h"
#include "../common/math.h"
#include "../common/random.h"
#include "../common/tile_bins.h"
#include "../rasterize/rasterize_kernel.h"
#include "shadow_kernel.h"

namespace renderers {

constexpr int kEdgeTile = 2;          // tile side in pixels
constexpr int kEdgeMaxSide = 8;       // at most 8 x 8 area samples per pixel
constexpr double kBinPad = 2e-3;      // pixels by which face boxes grow when binned
// Candidate edges crossing only "quiet" pixels (whose area samples, and their four neighbours',
// all agree: the same face, or for silhouettes all covered or all empty) rarely change the
// image: each is kept with probability kQuietKeep (Russian roulette, its samples weighted by
// 1 / kQuietKeep: unbiased) and gets one stratum per pixel piece; the budget goes to the others.
constexpr double kQuietKeep = 0.25;
enum EdgeStream : uint32_t { kStreamAreaX = 0, kStreamAreaY = 1, kStreamBoundary = 2, kStreamRoulette = 3 };

template <typename T>
struct EdgeKernelParams {
  HardKernelParams<T> hard;
  int side;             // area samples per pixel side (n)
  int spp;              // n * n
  int tiles;            // tiles per image side
  int num_edges;        // rows of the edge table
  int64_t edge_stride;  // edge table batch stride (0: shared)
  int64_t corner_stride;  // corner table batch stride (0: shared)
  int64_t edge_samples; // N per image
  uint64_t seed;
  T delta;              // the offset either side of an edge, in NDC
  T reject;             // faces whose box lies wholly beyond [-1 - reject, 1 + reject] are not binned
  T pad;                // kBinPad pixels in NDC
};

// Tile index of a coordinate (columns from x, rows from y), clamped to the grid.
template <typename T>
HOST_DEVICE FORCE_INLINE int edge_tile_of(T v, bool rows, const EdgeKernelParams<T>& p) {
  const T pos = (rows ? T(1) - v : v + T(1)) * T(p.hard.size) / T(2 * kEdgeTile);
  if (!(pos >= T(0))) return 0;  // NaN too
  if (pos >= T(p.tiles)) return p.tiles - 1;
  return int(pos);
}

// Whether face f is binned, and its tile rectangle.
template <typename T>
HOST_DEVICE FORCE_INLINE bool edge_face_tiles(const HardFace<T>& f, const EdgeKernelParams<T>& p, int& c0, int& c1,
                                              int& r0, int& r1) {
  const T lim = T(1) + p.reject;
  if (!f.drawable || f.xmax < -lim || f.xmin > lim || f.ymax < -lim || f.ymin > lim) return false;
  // Boxes grown by kBinPad pixels: a point inside a face is found in its pixel's tile even where
  // rounding puts it on the far side of a tile line.
  c0 = edge_tile_of(f.xmin - p.pad, false, p);
  c1 = edge_tile_of(f.xmax + p.pad, false, p);
  r0 = edge_tile_of(f.ymax + p.pad, true, p);
  r1 = edge_tile_of(f.ymin - p.pad, true, p);
  return true;
}

// Position of area sample s of pixel (row, col) of image b.
template <typename T>
HOST_DEVICE FORCE_INLINE void edge_area_sample(const EdgeKernelParams<T>& p, int64_t b, int row, int col, int s,
                                               T& x, T& y) {
  const int size = p.hard.size;
  const uint64_t counter = uint64_t(((b * size + row) * size + col) * p.spp + s);
  const T u = random_uniform<T>(p.seed, kStreamAreaX, counter);
  const T v = random_uniform<T>(p.seed, kStreamAreaY, counter);
  const T sub_x = (T(s % p.side) + u) / T(p.side), sub_y = (T(s / p.side) + v) / T(p.side);
  x = T(-1) + T(2) * (T(col) + sub_x) / T(size);
  y = T(1) - T(2) * (T(row) + sub_y) / T(size);
}

// Faces binned in the tile of point (x, y): [begin, end) of tile_faces.
template <typename T>
HOST_DEVICE FORCE_INLINE void edge_tile_range(const int64_t* tile_offsets, const EdgeKernelParams<T>& p, int64_t b,
                                              T x, T y, int64_t& begin, int64_t& end) {
  const int64_t tile = (b * p.tiles + edge_tile_of(y, true, p)) * p.tiles + edge_tile_of(x, false, p);
  begin = tile_offsets[tile];
  end = tile_offsets[tile + 1];
}

// The nearest drawable face covering (x, y) among the binned faces of its tile (-1: none).
template <typename T>
HOST_DEVICE FORCE_INLINE int edge_nearest_face(const HardFace<T>* faces, const int32_t* tile_faces,
                                               const int64_t* tile_offsets, const EdgeKernelParams<T>& p, int64_t b,
                                               T x, T y) {
  int64_t begin, end;
  edge_tile_range(tile_offsets, p, b, x, y, begin, end);
  int best = -1;
  T best_z = T(0);
  for (int64_t i = begin; i < end; ++i) {
    const int fi = tile_faces[i];
    const HardFace<T>& f = faces[fi];
    if (x < f.xmin || x > f.xmax || y < f.ymin || y > f.ymax) continue;
    T z;
    if (hard_depth_at(f, p.hard, x, y, z) && (best < 0 || z < best_z)) {  // faces are in index order
      best = fi;
      best_z = z;
    }
  }
  return best;
}

// The nearest faces at two nearby points (the two sides of an edge): the same results as two
// calls of edge_nearest_face, in one pass over the tile's faces when both points share a tile.
template <typename T>
HOST_DEVICE FORCE_INLINE void edge_nearest_pair(const HardFace<T>* faces, const int32_t* tile_faces,
                                                const int64_t* tile_offsets, const EdgeKernelParams<T>& p, int64_t b,
                                                T x0, T y0, T x1, T y1, int& best0, int& best1) {
  const bool same_tile = edge_tile_of(x0, false, p) == edge_tile_of(x1, false, p) &&
                         edge_tile_of(y0, true, p) == edge_tile_of(y1, true, p);
  if (!same_tile) {
    best0 = edge_nearest_face(faces, tile_faces, tile_offsets, p, b, x0, y0);
    best1 = edge_nearest_face(faces, tile_faces, tile_offsets, p, b, x1, y1);
    return;
  }
  int64_t begin, end;
  edge_tile_range(tile_offsets, p, b, x0, y0, begin, end);
  const T xmin = min_(x0, x1), xmax = max_(x0, x1), ymin = min_(y0, y1), ymax = max_(y0, y1);
  best0 = best1 = -1;
  T z0 = T(0), z1 = T(0);
  for (int64_t i = begin; i < end; ++i) {
    const int fi = tile_faces[i];
    const HardFace<T>& f = faces[fi];
    if (xmax < f.xmin || xmin > f.xmax || ymax < f.ymin || ymin > f.ymax) continue;
    T z;
    if (!(x0 < f.xmin || x0 > f.xmax || y0 < f.ymin || y0 > f.ymax) && hard_depth_at(f, p.hard, x0, y0, z) &&
        (best0 < 0 || z < z0)) {
      best0 = fi;
      z0 = z;
    }
    if (!(x1 < f.xmin || x1 > f.xmax || y1 < f.ymin || y1 > f.ymax) && hard_depth_at(f, p.hard, x1, y1, z) &&
        (best1 < 0 || z < z1)) {
      best1 = fi;
      z1 = z;
    }
  }
}

// RGBA of the scene at (x, y) of image b given its nearest face (-1: background); textures of
// this image. With shadows (shadow.faces set) the textures are the ambient parts and the shadowed
// directional part is added (shadow_kernel.h). Returns the point's visibility toward the light
// (false without shadows).
template <typename T>
HOST_DEVICE FORCE_INLINE bool edge_shade(const HardFace<T>* faces, const T* textures, const HardKernelParams<T>& p,
                                         const ShadowScene<T>& shadow, int64_t b, int face, T x, T y, T* rgba) {
  const bool colour = p.texture_type != kNmrNoTexture;
  if (face < 0) {
    for (int ch = 0; ch < 3; ++ch) rgba[ch] = colour ? p.background[ch] : T(0);
    rgba[3] = T(0);
    return false;
  }
  for (int ch = 0; ch < 3; ++ch) rgba[ch] = T(0);
  rgba[3] = T(1);
  if (!colour) return false;
  const HardFace<T>& f = faces[face];
  T w[3] = {T(0), T(0), T(0)};
  hard_covers(f, x, y, w);
  Perspective<T> s;
  perspective_correct(f, w, s);
  hard_sample(textures + int64_t(face) * p.texture_size * 3, p, s.wp, rgba);
  if (!shadow.faces) return false;
  const T* directional = shadow.directional + b * p.num_faces * p.texture_size * 3;
  return add_shadowed_directional(shadow, directional, p, b, face, s.wp, rgba);
}

// Back-propagates dL/dwp (perspective-correct barycentrics of face f at screen point (x, y), with
// unclipped barycentrics w and the Perspective ps of perspective_correct) to the face's screen
// corners, adding to gx, gy, gz. wp_k = q_k / Q, q_k = w_clip_k / z_k.
template <typename T>
HOST_DEVICE FORCE_INLINE void perspective_barycentric_backward(const HardFace<T>& f, const T* w,
                                                               const Perspective<T>& ps, const T* grad_wp, T x, T y,
                                                               T* gx, T* gy, T* gz) {
  const T dot = grad_wp[0] * ps.wp[0] + grad_wp[1] * ps.wp[1] + grad_wp[2] * ps.wp[2];
  T grad_clip[3], grad_w[3];
  for (int k = 0; k < 3; ++k) {
    const T grad_q = (grad_wp[k] - dot) / ps.Q;
    grad_clip[k] = grad_q * f.inv_z[k];
    gz[k] -= grad_q * ps.w_clip[k] * f.inv_z[k] * f.inv_z[k];
  }
  barycentric_clip_backward(w, ps.w_clip, ps.clip_sum, ps.clip_sum_clamped, grad_clip, grad_w);
  barycentric_backward(f.x, f.y, f.area, false, w, grad_w, x, y, gx, gy);
}

// ---------------------------------------------------------------------------------------------
// Binning (common/tile_bins.h): thread i = face i of the batch computes its tile rectangle.

template <typename T>
struct EdgeFaceRectKernel {
  const HardFace<T>* setups;  // (B * F)
  TileRect* rects;            // (B * F)
  EdgeKernelParams<T> p;
  HOST_DEVICE void operator()(int64_t i) const {
    TileRect r = empty_tile_rect();
    if (!edge_face_tiles(setups[i], p, r.c0, r.c1, r.r0, r.r1)) r = empty_tile_rect();
    rects[i] = r;
  }
};

// ---------------------------------------------------------------------------------------------
// Forward: thread i = pixel i of the batch (B * S * S).

template <typename T>
struct EdgeForwardArgs {
  const HardFace<T>* setups;
  const int32_t* tile_faces;
  const int64_t* tile_offsets;
  const T* textures;      // (B, F, T, 3) or null
  T* image;               // (B, 4, S, S)
  int32_t* sample_face;   // (B, S, S, spp)
  EdgeKernelParams<T> p;
  ShadowScene<T> shadow;  // shadows: the scene, else empty
  uint8_t* sample_lit;    // shadows: (B, S, S, spp) each sample's visibility toward the light
};

template <typename T>
struct EdgeForwardPixelKernel {
  EdgeForwardArgs<T> a;
  HOST_DEVICE void operator()(int64_t i) const {
    const EdgeKernelParams<T>& p = a.p;
    const int size = p.hard.size;
    const int64_t plane = int64_t(size) * size;
    const int64_t b = i / plane;
    const int pix = int(i % plane), row = pix / size, col = pix % size;
    const HardFace<T>* faces = a.setups + b * p.hard.num_faces;
    const T* textures = a.textures ? a.textures + b * p.hard.num_faces * p.hard.texture_size * 3 : nullptr;
    // The nearest face of every sample in one pass over the tile's faces: a face whose box misses
    // the pixel is skipped for all its samples at once (the same comparisons as
    // edge_nearest_face per sample, so the same faces win).
    T xs[kEdgeMaxSide * kEdgeMaxSide], ys[kEdgeMaxSide * kEdgeMaxSide], zs[kEdgeMaxSide * kEdgeMaxSide];
    int best[kEdgeMaxSide * kEdgeMaxSide];
    T x_lo = T(0), x_hi = T(0), y_lo = T(0), y_hi = T(0);
    for (int s = 0; s < p.spp; ++s) {
      edge_area_sample(p, b, row, col, s, xs[s], ys[s]);
      best[s] = -1;
      zs[s] = T(0);
      x_lo = s == 0 ? xs[s] : min_(x_lo, xs[s]);
      x_hi = s == 0 ? xs[s] : max_(x_hi, xs[s]);
      y_lo = s == 0 ? ys[s] : min_(y_lo, ys[s]);
      y_hi = s == 0 ? ys[s] : max_(y_hi, ys[s]);
    }
    int64_t begin, end;
    pixel_bin(a.tile_offsets, p.tiles, kEdgeTile, b, row, col, begin, end);  // the pixel's tile
    for (int64_t k = begin; k < end; ++k) {
      const int fi = a.tile_faces[k];
      const HardFace<T>& f = faces[fi];
      if (x_hi < f.xmin || x_lo > f.xmax || y_hi < f.ymin || y_lo > f.ymax) continue;
      for (int s = 0; s < p.spp; ++s) {
        const T x = xs[s], y = ys[s];
        if (x < f.xmin || x > f.xmax || y < f.ymin || y > f.ymax) continue;
        T z;
        if (hard_depth_at(f, p.hard, x, y, z) && (best[s] < 0 || z < zs[s])) {
          best[s] = fi;
          zs[s] = z;
        }
      }
    }
    T sum[4] = {T(0), T(0), T(0), T(0)};
    for (int s = 0; s < p.spp; ++s) {
      a.sample_face[i * p.spp + s] = best[s];
      T rgba[4];
      const bool lit = edge_shade(faces, textures, p.hard, a.shadow, b, best[s], xs[s], ys[s], rgba);
      if (a.sample_lit) a.sample_lit[i * p.spp + s] = lit;
      for (int ch = 0; ch < 4; ++ch) sum[ch] += rgba[ch];
    }
    for (int ch = 0; ch < 4; ++ch) a.image[(b * 4 + ch) * plane + pix] = sum[ch] / T(p.spp);
  }
};

// ---------------------------------------------------------------------------------------------
// Backward.

// One candidate edge of one image: endpoints a, b (screen x, y of face_a's corners slot_a0 and
// slot_a1) and its clipped parameter range [t0, t1]; length l_clip = |b - a| (t1 - t0), 0 if
// the edge is not a candidate or lies outside the image. The clipped part runs from pixel
// (row0, col0) to (row0 + drow, col0 + dcol) and is cut by the pixel grid into
// pieces = 1 + |dcol| + |drow| pieces, each sampled with per_piece strata.
template <typename T>
struct EdgeSegment {
  T ax, ay, bx, by, t0, t1;
  int col0, row0, dcol, drow, pieces;
  int64_t per_piece;
  T scale;  // 1, or 1 / kQuietKeep for a quiet edge kept by the roulette
};

// Length |(dx, dy)| of a screen segment, finite for every finite (dx, dy) below the largest
// value / sqrt(2). The plain sqrt(dx^2 + dy^2) is used wherever the sum of squares is a normal
// number (bit for bit the former result); elsewhere the components are scaled by the larger one
// first: in float32 the screen coordinates of a mesh with coordinates of 1e30 reach 1e35, whose
// square overflows to inf (which made the edge normal 0 and its samples' weights inf, so that
// their contributions, inf * 0, were NaN), and tiny segments' squares fall below the normal range.
template <typename T>
HOST_DEVICE FORCE_INLINE T edge_length(T dx, T dy) {
  const T squares = dx * dx + dy * dy;
  if (squares >= smallest_normal<T>() && squares - squares == T(0)) return sqrt_(squares);  // normal, finite
  const T ax = dx < T(0) ? -dx : dx, ay = dy < T(0) ? -dy : dy;
  const T larger = max_(ax, ay);
  if (!(larger > T(0))) return larger;  // 0 (a point), or NaN
  const T u = ax / larger, v = ay / larger;
  return larger * sqrt_(u * u + v * v);
}

// Pixel column (rows: row) holding coordinate v of a point of the image square.
template <typename T>
HOST_DEVICE FORCE_INLINE int edge_pixel_of(T v, bool rows, int size) {
  const T pos = (rows ? T(1) - v : v + T(1)) * T(size) / T(2);
  return pos >= T(size) ? size - 1 : pos > T(0) ? int(floor_(pos)) : 0;
}

// Parameter of the i-th crossing of the segment with a vertical (rows: horizontal) grid line.
template <typename T>
HOST_DEVICE FORCE_INLINE T edge_grid_crossing(const EdgeSegment<T>& s, int i, bool rows, int size) {
  const int step = rows ? s.drow : s.dcol;
  const int line = (rows ? s.row0 : s.col0) + (step > 0 ? 1 + i : -i);  // line k bounds pixel k from before
  if (rows) return ((T(1) - T(2) * T(line) / T(size)) - s.ay) / (s.by - s.ay);
  return ((T(-1) + T(2) * T(line) / T(size)) - s.ax) / (s.bx - s.ax);
}

// tau_k, the start of piece k (tau_0 = t0, tau_pieces = t1): the k-th grid crossing along the
// segment, merging the column and row crossings in order of their parameters.
template <typename T>
HOST_DEVICE FORCE_INLINE T edge_piece_start(const EdgeSegment<T>& s, int k, int size) {
  if (k <= 0) return s.t0;
  if (k >= s.pieces) return s.t1;
  const int nx = s.dcol < 0 ? -s.dcol : s.dcol, ny = s.drow < 0 ? -s.drow : s.drow;
  int ix = 0, iy = 0;
  T t = s.t0;
  for (int m = 0; m < k; ++m) {
    const bool take_x = iy >= ny || (ix < nx && edge_grid_crossing(s, ix, false, size) <= edge_grid_crossing(s, iy, true, size));
    t = take_x ? edge_grid_crossing(s, ix++, false, size) : edge_grid_crossing(s, iy++, true, size);
  }
  return clamp_(t, s.t0, s.t1);
}

template <typename T>
struct EdgeBackwardArgs {
  const HardFace<T>* setups;
  const int32_t* tile_faces;
  const int64_t* tile_offsets;
  const T* textures;           // (B, F, T, 3) or null
  const int32_t* edges;        // (E, 6) or (B, E, 6)
  const int32_t* corners;      // (F, 3, 2) or (B, F, 3, 2): edge * 2 + endpoint, -1 for none
  const int32_t* sample_face;  // (B, S, S, spp)
  uint8_t* mixed;              // (B, S, S): 1 where the area samples around the pixel disagree
  const T* grad_image;         // (B, 4, S, S)
  EdgeSegment<T>* segments;    // (B, E) scratch
  T* lengths;                  // (B, E) clipped candidate lengths
  T* weights;                  // (B, E) allocation weights (0 for quiet edges)
  const T* weight_totals;      // (B)
  int64_t* counts;             // (B, E) samples per edge
  const int64_t* ends;         // (B, E) inclusive prefix sums of counts
  T* contributions;            // (B, M, 4): (a_x, a_y, b_x, b_y), M = max_samples
  T* edge_grad;                // (B, E, 4)
  T* grad_face_vertices;       // (B, F, 3, 3)
  T* grad_textures;            // (B, F, T, 3) or null
  int64_t batch;
  int64_t max_samples;         // the largest image's sample count
  EdgeKernelParams<T> p;
  ShadowScene<T> shadow;       // shadows: the scene, else empty
  const uint8_t* sample_lit;   // shadows: (B, S, S, spp)
  T* grad_directional;         // shadows: (B, F, T, 3)
};

// Thread i = face i of the batch (B * F): the interior term, over the area samples it won.
template <typename T>
struct EdgeInteriorFaceKernel {
  EdgeBackwardArgs<T> a;
  HOST_DEVICE void operator()(int64_t i) const {
    const EdgeKernelParams<T>& p = a.p;
    const HardKernelParams<T>& hard = p.hard;
    const int size = hard.size;
    const int64_t plane = int64_t(size) * size;
    const int64_t b = i / hard.num_faces;
    const int fi = int(i % hard.num_faces);
    const HardFace<T>& f = a.setups[i];
    if (!f.drawable || hard.texture_type == kNmrNoTexture) return;
    if (!(f.xmax >= T(-1) && f.xmin <= T(1) && f.ymax >= T(-1) && f.ymin <= T(1))) return;
    int c0, c1, r0, r1;
    exact_span(f.xmin, f.xmax, size, false, c0, c1);
    exact_span(f.ymin, f.ymax, size, true, r0, r1);
    // exact_span selects pixel centres; a face may cover samples of the pixels either side.
    c0 = max_(c0 - 1, 0), r0 = max_(r0 - 1, 0), c1 = min_(c1 + 1, size - 1), r1 = min_(r1 + 1, size - 1);
    const int64_t tsize = int64_t(hard.texture_size) * 3;
    const T* texture = a.textures + i * tsize;
    T* grad_texture = a.grad_textures + i * tsize;
    // with shadows the colour is ambient + V * directional: each part gets its own gradient
    const T* directional = a.shadow.faces ? a.shadow.directional + i * tsize : nullptr;
    T* grad_directional = a.shadow.faces ? a.grad_directional + i * tsize : nullptr;
    T gx[3] = {T(0), T(0), T(0)}, gy[3] = {T(0), T(0), T(0)}, gz[3] = {T(0), T(0), T(0)};
    const T inv_spp = T(1) / T(p.spp);
    for (int row = r0; row <= r1; ++row) {
      for (int col = c0; col <= c1; ++col) {
        const int64_t pix = int64_t(row) * size + col;
        const int32_t* won = a.sample_face + (b * plane + pix) * p.spp;
        T g[3];
        bool loaded = false;
        for (int s = 0; s < p.spp; ++s) {
          if (won[s] != fi) continue;
          if (!loaded) {
            for (int ch = 0; ch < 3; ++ch) g[ch] = a.grad_image[(b * 4 + ch) * plane + pix] * inv_spp;
            loaded = true;
          }
          T x, y, w[3];
          edge_area_sample(p, b, row, col, s, x, y);
          if (!hard_covers(f, x, y, w)) continue;  // (the same test the forward passed)
          Perspective<T> ps;
          perspective_correct(f, w, ps);
          T grad_wp[3];
          hard_sample_backward(texture, hard, ps.wp, g, grad_wp, grad_texture);
          if (directional && a.sample_lit[(b * plane + pix) * p.spp + s]) {
            T grad_wp_lit[3];
            hard_sample_backward(directional, hard, ps.wp, g, grad_wp_lit, grad_directional);
            for (int k = 0; k < 3; ++k) grad_wp[k] += grad_wp_lit[k];
          }
          if (hard.texture_type != kNmrVertex) continue;  // flat colours: no interior term in x, y, z
          perspective_barycentric_backward(f, w, ps, grad_wp, x, y, gx, gy, gz);
        }
      }
    }
    T* out = a.grad_face_vertices + i * 9;
    for (int k = 0; k < 3; ++k) {
      out[3 * k + 0] = gx[k];
      out[3 * k + 1] = gy[k];
      out[3 * k + 2] = gz[k];
    }
  }
};

// Whether the colours of two drawable faces differ across their shared edge.
template <typename T>
HOST_DEVICE FORCE_INLINE bool edge_colours_differ(const T* textures, const HardKernelParams<T>& p, int fa, int a0,
                                                  int a1, int fb, int b0, int b1) {
  if (p.texture_type == kNmrNoTexture || !textures) return false;
  const T* ta = textures + int64_t(fa) * p.texture_size * 3;
  const T* tb = textures + int64_t(fb) * p.texture_size * 3;
  if (p.texture_type == kNmrVertex) {
    for (int ch = 0; ch < 3; ++ch)
      if (ta[3 * a0 + ch] != tb[3 * b0 + ch] || ta[3 * a1 + ch] != tb[3 * b1 + ch]) return true;
    return false;
  }
  for (int ch = 0; ch < 3; ++ch)
    if (ta[ch] != tb[ch]) return true;  // flat colours (R = 1)
  return false;
}

// Clips a + t (b - a), t in [0, 1], to the image square [-1, 1]^2 (Liang-Barsky).
template <typename T>
HOST_DEVICE FORCE_INLINE bool clip_to_image(T ax, T ay, T dx, T dy, T& t0, T& t1) {
  t0 = T(0);
  t1 = T(1);
  const T pq[4][2] = {{-dx, ax + T(1)}, {dx, T(1) - ax}, {-dy, ay + T(1)}, {dy, T(1) - ay}};
  for (int k = 0; k < 4; ++k) {
    const T pk = pq[k][0], qk = pq[k][1];
    if (pk == T(0)) {
      if (qk < T(0)) return false;
      continue;
    }
    const T r = qk / pk;
    if (pk < T(0)) {
      if (r > t0) t0 = r;
    } else if (r < t1) {
      t1 = r;
    }
  }
  return t0 < t1;
}

// Thread i = pixel i of the batch (B * S * S): whether the area samples of the pixel and of its
// four neighbours disagree (silhouettes: some cover a face and some do not; colours: not all
// the same face).
struct EdgeMixedPixelKernel {
  const int32_t* sample_face;  // (B, S, S, spp)
  uint8_t* mixed;              // (B, S, S)
  int size, spp;
  bool silhouette;
  HOST_DEVICE void operator()(int64_t i) const {
    const int64_t plane = int64_t(size) * size;
    const int64_t b = i / plane;
    const int pix = int(i % plane), row = pix / size, col = pix % size;
    const int32_t first = sample_face[i * spp];
    bool covered = false, empty = false, differ = false;
    const int dr[5] = {0, -1, 1, 0, 0}, dc[5] = {0, 0, 0, -1, 1};
    for (int n = 0; n < 5; ++n) {
      const int r = row + dr[n], c = col + dc[n];
      if (r < 0 || r >= size || c < 0 || c >= size) continue;
      const int32_t* faces = sample_face + ((b * plane) + int64_t(r) * size + c) * spp;
      for (int s = 0; s < spp; ++s) {
        covered = covered || faces[s] >= 0;
        empty = empty || faces[s] < 0;
        differ = differ || faces[s] != first;
      }
    }
    mixed[i] = silhouette ? (covered && empty) : differ;
  }
};

// Thread i = edge row i of the batch (B * E): its segment, clipped candidate length and
// allocation weight (the length; 0 for a quiet edge: one through quiet pixels only).
template <typename T>
struct EdgeSegmentKernel {
  EdgeBackwardArgs<T> a;
  HOST_DEVICE void operator()(int64_t i) const {
    const EdgeKernelParams<T>& p = a.p;
    const int64_t b = i / p.num_edges;
    const int e = int(i % p.num_edges);
    const int32_t* row = a.edges + b * p.edge_stride + int64_t(e) * 6;
    EdgeSegment<T>& seg = a.segments[i];
    seg = EdgeSegment<T>{T(0), T(0), T(0), T(0), T(0), T(0), 0, 0, 0, 0, 0, 0, T(1)};
    a.lengths[i] = T(0);
    a.weights[i] = T(0);
    const int fa = row[0], fb = row[3];
    if (fa < 0) return;
    const HardFace<T>* faces = a.setups + b * p.hard.num_faces;
    const HardFace<T>& A = faces[fa];
    const bool da = A.drawable, db = fb >= 0 && faces[fb].drawable;
    if (!da && !db) return;
    bool candidate = fb < 0 || da != db;
    if (!candidate) {
      const HardFace<T>& B = faces[fb];
      const T* textures = a.textures ? a.textures + b * p.hard.num_faces * p.hard.texture_size * 3 : nullptr;
      // (with shadows both parts of the colours: faces alike in ambient may differ in directional)
      const T* directional =
          a.shadow.faces ? a.shadow.directional + b * p.hard.num_faces * p.hard.texture_size * 3 : nullptr;
      candidate = (A.area < T(0)) != (B.area < T(0)) ||
                  edge_colours_differ(textures, p.hard, fa, row[1], row[2], fb, row[4], row[5]) ||
                  edge_colours_differ(directional, p.hard, fa, row[1], row[2], fb, row[4], row[5]);
    }
    // with shadows, a silhouette seen from the light: the visibility of the light jumps across it
    // (the terminator of smooth shading, whose colours are continuous there)
    if (!candidate && a.shadow.faces) {
      const T* world = a.shadow.world + b * p.hard.num_faces * 9;
      const T* w = a.shadow.frames + b * kLightFrameStride + 6;
      candidate = faces_light(world + fa * 9, w) != faces_light(world + fb * 9, w);
    }
    if (!candidate) return;
    seg.ax = A.x[row[1]];
    seg.ay = A.y[row[1]];
    seg.bx = A.x[row[2]];
    seg.by = A.y[row[2]];
    const T dx = seg.bx - seg.ax, dy = seg.by - seg.ay;
    const T len = edge_length(dx, dy);
    // (a length that overflows the precision cannot be sampled: such an edge is not a candidate)
    if (!(len > T(0)) || !(len - len == T(0)) || !clip_to_image(seg.ax, seg.ay, dx, dy, seg.t0, seg.t1)) return;
    const T clipped = len * (seg.t1 - seg.t0);
    if (!(clipped > T(0)) || !(clipped - clipped == T(0))) return;
    const int size = p.hard.size;
    seg.col0 = edge_pixel_of(seg.ax + seg.t0 * dx, false, size);
    seg.row0 = edge_pixel_of(seg.ay + seg.t0 * dy, true, size);
    seg.dcol = edge_pixel_of(seg.ax + seg.t1 * dx, false, size) - seg.col0;
    seg.drow = edge_pixel_of(seg.ay + seg.t1 * dy, true, size) - seg.row0;
    seg.pieces = 1 + (seg.dcol < 0 ? -seg.dcol : seg.dcol) + (seg.drow < 0 ? -seg.drow : seg.drow);
    const uint8_t* mixed = a.mixed + b * int64_t(size) * size;
    bool busy = false;
    for (int k = 0; k < 3; ++k) {  // the clipped part's ends and middle
      const T t = k == 0 ? seg.t0 : k == 1 ? seg.t1 : (seg.t0 + seg.t1) / T(2);
      busy = busy || mixed[int64_t(edge_pixel_of(seg.ay + t * dy, true, size)) * size +
                           edge_pixel_of(seg.ax + t * dx, false, size)];
    }
    a.lengths[i] = clipped;
    a.weights[i] = busy ? clipped : T(0);
  }
};

// Thread b = image b: the total allocation weight W, summed in edge order (the same on every
// launcher and thread count).
template <typename T>
struct EdgeWeightTotalKernel {
  const T* weights;  // (B, E)
  T* totals;         // (B)
  int num_edges;
  HOST_DEVICE void operator()(int64_t b) const {
    T sum = T(0);
    for (int e = 0; e < num_edges; ++e) sum += weights[b * num_edges + e];
    totals[b] = sum;
  }
};

// Thread i = edge row i of the batch (B * E): its strata per pixel piece,
// q_e = max(1, ceil(N w_e / (2 W pieces_e))) for a busy edge, 1 with probability kQuietKeep (else
// 0) for a quiet one, and sample count n_e = 2 pieces_e q_e (an antithetic pair per stratum).
template <typename T>
struct EdgeAllocateKernel {
  EdgeBackwardArgs<T> a;
  HOST_DEVICE void operator()(int64_t i) const {
    const int64_t b = i / a.p.num_edges;
    const T total = a.weight_totals[b];
    EdgeSegment<T>& seg = a.segments[i];
    int64_t per_piece = 0;
    seg.scale = T(1);
    if (a.lengths[i] > T(0)) {
      if (a.weights[i] > T(0)) {
        const T share = ceil_(T(a.p.edge_samples) * a.weights[i] / (T(2) * total * T(seg.pieces)));
        // (NaN, which finite weights never give, takes 1 rather than an undefined conversion)
        per_piece = share > T(a.p.edge_samples) ? a.p.edge_samples : share >= T(1) ? int64_t(share) : 1;
      } else if (random_uniform<T>(a.p.seed, kStreamRoulette, uint64_t(i)) < T(kQuietKeep)) {
        per_piece = 1;
        seg.scale = T(1.0 / kQuietKeep);
      }
    }
    seg.per_piece = per_piece;
    a.counts[i] = 2 * per_piece * seg.pieces;  // an antithetic pair per stratum
  }
};

// Thread i = boundary sample j of image b (B * M threads; those past the image's total idle).
// Its random number is keyed by (b, j), so it does not depend on the other images.
// Sample m of edge e's n_e sits at (m + u) / n_e of its clipped part.
template <typename T>
struct EdgeBoundarySampleKernel {
  EdgeBackwardArgs<T> a;
  HOST_DEVICE void operator()(int64_t i) const {
    const EdgeKernelParams<T>& p = a.p;
    const int64_t b = i / a.max_samples, j = i % a.max_samples;
    const int num_edges = p.num_edges;
    const int64_t* ends = a.ends + b * num_edges;
    if (j >= ends[num_edges - 1]) return;
    // The edge whose range holds j: the first with ends[e] > j (upper bound).
    int lo = 0, hi = num_edges;
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (ends[mid] > j) hi = mid;
      else lo = mid + 1;
    }
    const int e = lo;
    const int64_t m = j - (ends[e] - a.counts[b * num_edges + e]);
    const EdgeSegment<T>& seg = a.segments[b * num_edges + e];
    const int size = p.hard.size;
    const int piece = int(m / (2 * seg.per_piece));
    const int64_t within = m % (2 * seg.per_piece), stratum = within / 2;
    const bool mirrored = within % 2 == 1;
    const T lo_t = edge_piece_start(seg, piece, size);
    const T hi_t = max_(edge_piece_start(seg, piece + 1, size), lo_t);
    // one random number per stratum, shared by the pair: u and its mirror image 1 - u
    const T u = random_uniform<T>(p.seed, kStreamBoundary, (uint64_t(b) << 32) + uint64_t(j - (mirrored ? 1 : 0)));
    const T t = lo_t + ((T(stratum) + (mirrored ? T(1) - u : u)) / T(seg.per_piece)) * (hi_t - lo_t);
    const T dx = seg.bx - seg.ax, dy = seg.by - seg.ay;
    const T len = edge_length(dx, dy);  // as in EdgeSegmentKernel: > 0 and finite
    const T nx = -dy / len, ny = dx / len;
    const T px = seg.ax + t * dx, py = seg.ay + t * dy;
    const HardFace<T>* faces = a.setups + b * p.hard.num_faces;
    const T* textures = a.textures ? a.textures + b * p.hard.num_faces * p.hard.texture_size * 3 : nullptr;
    T f_in[4], f_out[4];
    const T ix = px - p.delta * nx, iy = py - p.delta * ny, ox = px + p.delta * nx, oy = py + p.delta * ny;
    int face_in, face_out;
    edge_nearest_pair(faces, a.tile_faces, a.tile_offsets, p, b, ix, iy, ox, oy, face_in, face_out);
    edge_shade(faces, textures, p.hard, a.shadow, b, face_in, ix, iy, f_in);
    edge_shade(faces, textures, p.hard, a.shadow, b, face_out, ox, oy, f_out);
    const int64_t plane = int64_t(size) * size;
    const int col = edge_pixel_of(px, false, size), row = edge_pixel_of(py, true, size);
    T diff = T(0);
    for (int ch = 0; ch < 4; ++ch)
      diff += a.grad_image[(b * 4 + ch) * plane + int64_t(row) * size + col] * (f_in[ch] - f_out[ch]);
    // the stratum's length / A_pix, A_pix = (2 / S)^2
    const T weight = diff * ((hi_t - lo_t) * len / T(2 * seg.per_piece)) * seg.scale * T(size) * T(size) / T(4);
    T* out = a.contributions + i * 4;
    out[0] = weight * (T(1) - t) * nx;
    out[1] = weight * (T(1) - t) * ny;
    out[2] = weight * t * nx;
    out[3] = weight * t * ny;
  }
};

// Thread i = edge row i of the batch (B * E): the sum of its samples' contributions, in order.
template <typename T>
struct EdgeGatherKernel {
  EdgeBackwardArgs<T> a;
  HOST_DEVICE void operator()(int64_t i) const {
    const int64_t b = i / a.p.num_edges;
    const int64_t end = a.ends[i], begin = end - a.counts[i];
    T sum[4] = {T(0), T(0), T(0), T(0)};
    for (int64_t j = begin; j < end; ++j)
      for (int c = 0; c < 4; ++c) sum[c] += a.contributions[(b * a.max_samples + j) * 4 + c];
    for (int c = 0; c < 4; ++c) a.edge_grad[i * 4 + c] = sum[c];
  }
};

// Thread i = corner i of the batch (B * F * 3): adds the boundary term of the edges it ends.
template <typename T>
struct EdgeCornerGatherKernel {
  EdgeBackwardArgs<T> a;
  HOST_DEVICE void operator()(int64_t i) const {
    const EdgeKernelParams<T>& p = a.p;
    const int64_t per_image = int64_t(p.hard.num_faces) * 3;
    const int64_t b = i / per_image, corner = i % per_image;
    const int32_t* ends = a.corners + b * p.corner_stride + corner * 2;
    T* out = a.grad_face_vertices + i * 3;
    for (int m = 0; m < 2; ++m) {
      const int32_t end = ends[m];
      if (end < 0) continue;
      const T* g = a.edge_grad + (b * p.num_edges + end / 2) * 4 + 2 * (end % 2);
      out[0] += g[0];
      out[1] += g[1];
    }
  }
};

}  // namespace renderers
