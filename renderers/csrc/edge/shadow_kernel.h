// Edge sampling for secondary visibility (Li et al. 2018, section 4.2): hard shadows from the
// directional light, as per-thread kernels written once for the CPU, CUDA and the emulated launch
// (common/launch.h). The derivation is in the README ("Shadows"); the plain-PyTorch version of the
// same estimator is renderers/reference/shadow.py.
//
// Shading. With shadows the lit colour of a face point is ambient + V * directional, the two parts
// lit per face or per vertex in Python (renderers/lighting.py: light_parts) and interpolated
// separately, and V in {0, 1} its visibility toward the light: 0 when the ray from the point along
// w (the unit direction toward the light) meets another face more than `bias` above it.
//
// Light frame. Per image: an orthonormal basis (u, v, w) with w the light direction; a point P has
// light-frame coordinates (P.u, P.v) and height P.w. A shadow ray is then a vertical line in the
// light frame: it is blocked by a face whose light-frame triangle holds (P.u, P.v) and whose height
// there exceeds P's by more than bias = shadow_bias * (the scene's largest extent in u, v or w):
// the offset that keeps a face's neighbours from shadowing points of it (acne). A face never
// shadows its own points. Faces are binned into cells x cells squares of the light-frame bounding
// box of the image's faces (common/tile_bins.h), so a ray tests only the faces of its cell.
//
// Secondary boundary term. The shadow of occluder edge (v0, v1) is where the receiver point seen
// at screen position x, y(x; theta), crosses the plane through v0 spanned by e = v1 - v0 and w:
// beta(x; theta) = m . (y(x; theta) - v0), m = e x w. Its contribution to pixel p's box-filtered
// value is the integral along the screen curve beta = 0 of
//   (L(beta > 0 side) - L(beta < 0 side)) * (d beta / d theta) / |grad_x beta| / A_pix.
// Sampling: the light-silhouette edges (border edges, and edges whose two faces face opposite
// ways relative to w) are concatenated in edge order, weighted by their light-frame lengths
// l_e = |e x w| (total L); sample j takes sigma_j = (j + u_j) L / N (stratified), the edge e whose
// range holds it and the point q at parameter t on it. The ray from q away from the light meets
// the receiver (its first face below q other than the edge's own); its screen position x follows
// from the receiver's light-frame barycentrics. With n = grad_x beta / |grad_x beta|, the sample
// is kept if x is in the image and the receiver is the face seen at both points x +- delta n: that
// is its visibility from the camera, and a side showing another face is one of the receiver's
// screen edges, which the primary term samples. Then, with the shading L evaluated there (offset
// pixels either side, with shadow rays),
//   weight = adj(p) . (L(x + delta n) - L(x - delta n)) * (L / N) * |dx/dt| / l_e / |grad_x beta| / A_pix,
// and d beta / d theta reaches the occluder's world corners v0, v1 (moving the shadow plane), the
// light direction, the receiver's world corners (y = sum_k wp_k(x) P_k) and its screen corners
// (the perspective-correct barycentrics wp(x) at fixed x: this is how the camera moves the
// receiver point). Samples of one edge are consecutive and the receivers' sums are taken after a
// stable sort by receiver: deterministic, no atomics.
#pragma once

#include <cstdint>

#include "../common/geometry.h"
#include "../common/macros.h"
#include "../common/math.h"
#include "../common/random.h"
#include "../common/tile_bins.h"
#include "../rasterize/rasterize_kernel.h"

namespace renderers {

constexpr uint32_t kStreamShadow = 4;  // the secondary boundary samples' random numbers
constexpr int kLightFrameStride = 16;  // values per image: u(3) v(3) w(3) u0 v0 inv_cell bias (4 unused)
constexpr int kShadowRecord = 27;      // d beta / d: v0 (3), v1 (3), w (3), receiver world (9), screen (9)

// A face in the light frame.
template <typename T>
struct LightFace {
  T x[3], y[3], h[3];        // light-frame coordinates (P.u, P.v) and heights P.w of the corners
  T area;                    // signed double area of (x, y); 0 for faces edge-on to the light
  T xmin, xmax, ymin, ymax;  // bounding box of (x, y)
  bool valid;                // finite with non-zero light-frame area: can block and receive
};

// The shadow scene of a batch: what shading with shadow rays needs.
template <typename T>
struct ShadowScene {
  const LightFace<T>* faces = nullptr;   // (B * F); null: no shadows
  const T* frames = nullptr;             // (B, kLightFrameStride)
  const int32_t* cell_faces = nullptr;   // the cells' face lists (common/tile_bins.h)
  const int64_t* cell_offsets = nullptr;
  const T* world = nullptr;              // (B, F, 3, 3) world corners
  const T* directional = nullptr;        // (B, F, T, 3) directional colour parts
  int cells = 1;
};

template <typename T>
HOST_DEVICE FORCE_INLINE T dot3(const T* a, const T* b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

template <typename T>
HOST_DEVICE FORCE_INLINE void cross3(const T* a, const T* b, T* out) {
  out[0] = a[1] * b[2] - a[2] * b[1];
  out[1] = a[2] * b[0] - a[0] * b[2];
  out[2] = a[0] * b[1] - a[1] * b[0];
}

// Whether a face (world corners P, 9 values) faces the light: its right-hand-rule normal has a
// positive component along w. An edge whose two faces differ in this is a silhouette seen from
// the light.
template <typename T>
HOST_DEVICE FORCE_INLINE bool faces_light(const T* P, const T* w) {
  T e1[3], e2[3], n[3];
  for (int c = 0; c < 3; ++c) {
    e1[c] = P[3 + c] - P[c];
    e2[c] = P[6 + c] - P[c];
  }
  cross3(e1, e2, n);
  return dot3(n, w) > T(0);
}

// The light-frame basis of unit direction w: u = normalize(w x a), v = w x u, with a the
// coordinate axis of w's smallest component (the first on ties).
template <typename T>
HOST_DEVICE FORCE_INLINE void light_basis(const T* w, T* u, T* v) {
  const T ax = abs_(w[0]), ay = abs_(w[1]), az = abs_(w[2]);
  T a[3] = {T(0), T(0), T(0)};
  a[ax <= ay && ax <= az ? 0 : ay <= az ? 1 : 2] = T(1);
  cross3(w, a, u);
  const T len = sqrt_(dot3(u, u));
  for (int c = 0; c < 3; ++c) u[c] /= len;
  cross3(w, u, v);
}

// Cell of a light-frame coordinate, clamped to the grid (NaN: 0).
template <typename T>
HOST_DEVICE FORCE_INLINE int light_cell_of(T coordinate, T origin, T inv_cell, int cells) {
  const T pos = (coordinate - origin) * inv_cell;
  if (!(pos >= T(0))) return 0;
  if (pos >= T(cells)) return cells - 1;
  return int(pos);
}

// Thread b = image b: its light frame (basis, grid origin and cell size) and absolute bias, from
// the bounding box of its finite faces in light coordinates.
template <typename T>
struct LightFrameKernel {
  const T* world;  // (B, F, 3, 3)
  const T* light;  // (B, 3) unit
  T* frames;       // (B, kLightFrameStride)
  int num_faces, cells;
  T bias;          // relative to the scene's extent
  HOST_DEVICE void operator()(int64_t b) const {
    const T* w = light + b * 3;
    T u[3], v[3];
    light_basis(w, u, v);
    T lo[3] = {T(0), T(0), T(0)}, hi[3] = {T(0), T(0), T(0)};
    bool any = false;
    for (int f = 0; f < num_faces; ++f) {
      const T* P = world + (b * num_faces + f) * 9;
      bool finite = true;
      for (int k = 0; k < 9; ++k) finite = finite && P[k] - P[k] == T(0);
      if (!finite) continue;
      for (int k = 0; k < 3; ++k) {
        const T c[3] = {dot3(P + 3 * k, u), dot3(P + 3 * k, v), dot3(P + 3 * k, w)};
        for (int d = 0; d < 3; ++d) {
          lo[d] = any ? min_(lo[d], c[d]) : c[d];
          hi[d] = any ? max_(hi[d], c[d]) : c[d];
        }
        any = true;
      }
    }
    T* out = frames + b * kLightFrameStride;
    for (int c = 0; c < 3; ++c) {
      out[c] = u[c];
      out[3 + c] = v[c];
      out[6 + c] = w[c];
    }
    const T side = max_(hi[0] - lo[0], hi[1] - lo[1]);
    const T extent = max_(side, hi[2] - lo[2]);
    out[9] = lo[0];
    out[10] = lo[1];
    out[11] = side > T(0) ? T(cells) / side : T(0);
    out[12] = bias * extent;
    for (int c = 13; c < kLightFrameStride; ++c) out[c] = T(0);
  }
};

// Thread i = face i of the batch: its light-frame triangle and its cell rectangle.
template <typename T>
struct LightFaceKernel {
  const T* world;   // (B, F, 3, 3)
  const T* frames;  // (B, kLightFrameStride)
  LightFace<T>* faces;
  TileRect* rects;
  int num_faces, cells;
  HOST_DEVICE void operator()(int64_t i) const {
    const T* fr = frames + (i / num_faces) * kLightFrameStride;
    const T* P = world + i * 9;
    LightFace<T> f;
    bool finite = true;
    for (int k = 0; k < 3; ++k) {
      f.x[k] = dot3(P + 3 * k, fr);
      f.y[k] = dot3(P + 3 * k, fr + 3);
      f.h[k] = dot3(P + 3 * k, fr + 6);
      finite = finite && f.x[k] - f.x[k] == T(0) && f.y[k] - f.y[k] == T(0) && f.h[k] - f.h[k] == T(0);
    }
    f.area = (f.x[1] - f.x[0]) * (f.y[2] - f.y[0]) - (f.x[2] - f.x[0]) * (f.y[1] - f.y[0]);
    f.xmin = min_(min_(f.x[0], f.x[1]), f.x[2]);
    f.xmax = max_(max_(f.x[0], f.x[1]), f.x[2]);
    f.ymin = min_(min_(f.y[0], f.y[1]), f.y[2]);
    f.ymax = max_(max_(f.y[0], f.y[1]), f.y[2]);
    f.valid = finite && f.area != T(0) && f.area - f.area == T(0);
    faces[i] = f;
    TileRect r = empty_tile_rect();
    if (f.valid) {
      r.c0 = light_cell_of(f.xmin, fr[9], fr[11], cells);
      r.c1 = light_cell_of(f.xmax, fr[9], fr[11], cells);
      r.r0 = light_cell_of(f.ymin, fr[10], fr[11], cells);
      r.r1 = light_cell_of(f.ymax, fr[10], fr[11], cells);
    }
    rects[i] = r;
  }
};

// Whether the light-frame triangle holds (px, py) (edges included); its barycentrics if so.
template <typename T>
HOST_DEVICE FORCE_INLINE bool light_covers(const LightFace<T>& f, T px, T py, T* lambda) {
  if (px < f.xmin || px > f.xmax || py < f.ymin || py > f.ymax) return false;
  T e[3];
  for (int k = 0; k < 3; ++k) e[k] = edge_function(f.x, f.y, k, px, py);
  const bool inside = f.area > T(0) ? (e[0] >= T(0) && e[1] >= T(0) && e[2] >= T(0))
                                    : (e[0] <= T(0) && e[1] <= T(0) && e[2] <= T(0));
  if (!inside) return false;
  for (int k = 0; k < 3; ++k) lambda[k] = e[k] / f.area;
  return true;
}

// Faces [begin, end) of the cell holding light-frame point (px, py) of image b.
template <typename T>
HOST_DEVICE FORCE_INLINE void light_cell_range(const ShadowScene<T>& sc, int64_t b, T px, T py, int64_t& begin,
                                               int64_t& end) {
  const T* fr = sc.frames + b * kLightFrameStride;
  const int col = light_cell_of(px, fr[9], fr[11], sc.cells), row = light_cell_of(py, fr[10], fr[11], sc.cells);
  const int64_t cell = (b * sc.cells + row) * sc.cells + col;
  begin = sc.cell_offsets[cell];
  end = sc.cell_offsets[cell + 1];
}

// Whether the shadow ray from world point P of face `self` (image b) is blocked.
template <typename T>
HOST_DEVICE FORCE_INLINE bool shadow_blocked(const ShadowScene<T>& sc, int64_t b, int num_faces, const T* P,
                                             int self) {
  const T* fr = sc.frames + b * kLightFrameStride;
  const T px = dot3(P, fr), py = dot3(P, fr + 3), ph = dot3(P, fr + 6);
  int64_t begin, end;
  light_cell_range(sc, b, px, py, begin, end);
  const LightFace<T>* faces = sc.faces + b * num_faces;
  for (int64_t k = begin; k < end; ++k) {
    const int fi = sc.cell_faces[k];
    if (fi == self) continue;
    T lambda[3];
    if (!light_covers(faces[fi], px, py, lambda)) continue;
    const LightFace<T>& f = faces[fi];
    if (lambda[0] * f.h[0] + lambda[1] * f.h[1] + lambda[2] * f.h[2] > ph + fr[12]) return true;
  }
  return false;
}

// The first face below light-frame point (px, py) at height ph (more than bias lower), other than
// skip_a and skip_b: the highest, the lowest index on ties; -1 if none. lambda: its barycentrics.
template <typename T>
HOST_DEVICE FORCE_INLINE int shadow_receiver(const ShadowScene<T>& sc, int64_t b, int num_faces, T px, T py, T ph,
                                             int skip_a, int skip_b, T* lambda) {
  const T* fr = sc.frames + b * kLightFrameStride;
  int64_t begin, end;
  light_cell_range(sc, b, px, py, begin, end);
  const LightFace<T>* faces = sc.faces + b * num_faces;
  int best = -1;
  T best_h = T(0);
  for (int64_t k = begin; k < end; ++k) {
    const int fi = sc.cell_faces[k];
    if (fi == skip_a || fi == skip_b) continue;
    T l[3];
    if (!light_covers(faces[fi], px, py, l)) continue;
    const LightFace<T>& f = faces[fi];
    const T h = l[0] * f.h[0] + l[1] * f.h[1] + l[2] * f.h[2];
    if (h < ph - fr[12] && (best < 0 || h > best_h)) {
      best = fi;
      best_h = h;
      for (int m = 0; m < 3; ++m) lambda[m] = l[m];
    }
  }
  return best;
}

// Whether the point of face `face` (image b) at perspective-correct barycentrics wp is lit.
template <typename T>
HOST_DEVICE FORCE_INLINE bool shadow_lit(const ShadowScene<T>& sc, int64_t b, int num_faces, int face, const T* wp) {
  const T* P = sc.world + (b * num_faces + face) * 9;
  T point[3];
  for (int c = 0; c < 3; ++c) point[c] = wp[0] * P[c] + wp[1] * P[3 + c] + wp[2] * P[6 + c];
  return !shadow_blocked(sc, b, num_faces, point, face);
}

// Adds the directional part times the visibility to rgba (which holds the ambient part) for the
// point of face `face` at wp; directional: the image's (F, T, 3) block. Returns the visibility
// (traced even where the directional part is zero: the part's gradient is V * wp).
template <typename T>
HOST_DEVICE FORCE_INLINE bool add_shadowed_directional(const ShadowScene<T>& sc, const T* directional,
                                                       const HardKernelParams<T>& p, int64_t b, int face,
                                                       const T* wp, T* rgba) {
  if (!shadow_lit(sc, b, p.num_faces, face, wp)) return false;
  T d[3];
  hard_sample(directional + int64_t(face) * p.texture_size * 3, p, wp, d);
  for (int ch = 0; ch < 3; ++ch) rgba[ch] += d[ch];
  return true;
}

}  // namespace renderers
