// 2D triangle geometry in screen space, written once for host and device.
//
// Conventions (shared by every renderer in this package):
//   * screen coordinates are normalised device coordinates, x to the right, y up,
//     the image covering [-1, 1]^2; pixel (row r, column c) of an S x S image has its
//     centre at x = (2c + 1 - S) / S, y = (S - 1 - 2r) / S (row 0 is the top).
//   * a triangle's vertices are (x[k], y[k]), k = 0, 1, 2; edge k runs from vertex k
//     to vertex k + 1 (mod 3).
//   * the signed double area is A = (x1 - x0)(y2 - y0) - (x2 - x0)(y1 - y0); A < 0 for
//     front faces (see camera.py for why), and |A| is clamped to at least kMinArea so
//     that degenerate triangles never divide by zero.
#pragma once

#include "macros.h"
#include "math.h"

namespace renderers {

constexpr double kMinArea = 1e-10;

// Pixel centre in normalised device coordinates.
template <typename T>
HOST_DEVICE FORCE_INLINE T pixel_x(int col, int size) {
  return T(2 * col + 1 - size) / T(size);
}
template <typename T>
HOST_DEVICE FORCE_INLINE T pixel_y(int row, int size) {
  return T(size - 1 - 2 * row) / T(size);
}

// Signed double area, clamped away from zero keeping its sign (0 counts as negative).
template <typename T>
HOST_DEVICE FORCE_INLINE T signed_area_clamped(const T* x, const T* y, bool& clamped) {
  const T area = (x[1] - x[0]) * (y[2] - y[0]) - (x[2] - x[0]) * (y[1] - y[0]);
  const T lim = T(kMinArea);
  clamped = area > T(0) ? area <= lim : area >= -lim;  // gradient blocked at the kink, as in torch.clamp
  return area > T(0) ? max_(area, lim) : min_(area, -lim);
}

// Unnormalised edge function of the edge opposite vertex k at point p:
// E_k = (x_i - px)(y_j - py) - (x_j - px)(y_i - py), i = k + 1, j = k + 2 (mod 3).
// The barycentric coordinate of vertex k is E_k / A.
template <typename T>
HOST_DEVICE FORCE_INLINE T edge_function(const T* x, const T* y, int k, T px, T py) {
  const int i = (k + 1) % 3, j = (k + 2) % 3;
  return (x[i] - px) * (y[j] - py) - (x[j] - px) * (y[i] - py);
}

// Back-propagates dL/dw (unclipped barycentrics at p) to the vertices' screen x and y,
// adding to grad_x, grad_y. w_k = E_k / A, so dw_k/dv = (dE_k/dv - w_k dA/dv) / A; dA/dv vanishes
// when A was clamped. Lane-generic: the face (x, y, area) is scalar S, the pixel values V.
template <typename S, typename V>
HOST_DEVICE FORCE_INLINE void barycentric_backward(const S* x, const S* y, S area, bool area_clamped,
                                                   const V* w, const V* grad_w, V px, V py,
                                                   V* grad_x, V* grad_y) {
  const S inv_area = S(1) / area;
  const V gbar = area_clamped ? V(S(0)) : grad_w[0] * w[0] + grad_w[1] * w[1] + grad_w[2] * w[2];
  for (int k = 0; k < 3; ++k) {
    const int i = (k + 1) % 3, j = (k + 2) % 3;
    // Contribution of E_k: it depends on vertices i and j.
    const V g = grad_w[k] * inv_area;
    grad_x[i] += g * (y[j] - py);
    grad_y[i] -= g * (x[j] - px);
    grad_x[j] -= g * (y[i] - py);
    grad_y[j] += g * (x[i] - px);
    // Contribution of A = sum_k E_k: dA/dx_k = y_i - y_j, dA/dy_k = x_j - x_i.
    grad_x[k] -= gbar * inv_area * (y[i] - y[j]);
    grad_y[k] -= gbar * inv_area * (x[j] - x[i]);
  }
}

// Clip barycentrics to [0, 1] and renormalise (sum clamped to at least 1e-5).
template <typename T>
HOST_DEVICE FORCE_INLINE void barycentric_clip(const T* w, T* w_clip, T& sum_clamped_out, bool& sum_clamped) {
  T c[3];
  for (int k = 0; k < 3; ++k) c[k] = clamp_(w[k], T(0), T(1));
  const T s = c[0] + c[1] + c[2];
  sum_clamped = !(s > T(1e-5));  // at the kink the gradient is blocked, as in torch.clamp
  const T sc = sum_clamped ? T(1e-5) : s;
  for (int k = 0; k < 3; ++k) w_clip[k] = c[k] / sc;
  sum_clamped_out = sc;
}

// Back-propagates dL/dw_clip to dL/dw through barycentric_clip.
template <typename T>
HOST_DEVICE FORCE_INLINE void barycentric_clip_backward(const T* w, const T* w_clip, T sum, bool sum_clamped,
                                                        const T* grad_w_clip, T* grad_w) {
  const T dot = sum_clamped ? T(0)
                            : grad_w_clip[0] * w_clip[0] + grad_w_clip[1] * w_clip[1] + grad_w_clip[2] * w_clip[2];
  for (int k = 0; k < 3; ++k) {
    const bool passes = w[k] > T(0) && w[k] < T(1);  // open interval, as torch.clamp's backward
    grad_w[k] = passes ? (grad_w_clip[k] - dot) / sum : T(0);
  }
}

// Nearest point q of the triangle's boundary to p (lane-generic: the face is scalar S, the
// pixel values V). Edge k's point is q_k = v_k + t_k e_k, t_k = clamp((p - v_k) . e_k / |e_k|^2,
// 0, 1), given inv_len2_k = 1 / |e_k|^2 (0 for a zero-length edge). The nearest over the edges
// wins, the first on ties (degenerate faces tie; the reference rounds t the same way, so it picks
// the same edge); on[k] marks the lanes where it is edge k.
template <typename V>
struct BoundaryPoint {
  V d2;      // |p - q|^2
  V t;       // q's parameter on its edge
  V rx, ry;  // p - q
  mask_t<V> on[3];
};

template <typename S, typename V>
HOST_DEVICE FORCE_INLINE BoundaryPoint<V> nearest_boundary_point(const S* x, const S* y, const S* ex, const S* ey,
                                                                 const S* inv_len2, V px, V py) {
  BoundaryPoint<V> q;
  V d2[3], t[3], rx[3], ry[3];
  for (int k = 0; k < 3; ++k) {
    const V dx = px - x[k], dy = py - y[k];
    t[k] = clamp01((dx * ex[k] + dy * ey[k]) * inv_len2[k]);
    rx[k] = dx - t[k] * ex[k];
    ry[k] = dy - t[k] * ey[k];
    d2[k] = rx[k] * rx[k] + ry[k] * ry[k];
  }
  const auto one = d2[1] < d2[0];
  q.d2 = pick(one, d2[1], d2[0]);
  q.t = pick(one, t[1], t[0]);
  q.rx = pick(one, rx[1], rx[0]);
  q.ry = pick(one, ry[1], ry[0]);
  const auto two = d2[2] < q.d2;
  q.d2 = pick(two, d2[2], q.d2);
  q.t = pick(two, t[2], q.t);
  q.rx = pick(two, rx[2], q.rx);
  q.ry = pick(two, ry[2], q.ry);
  q.on[2] = two;
  q.on[1] = one & !two;
  q.on[0] = !(one | two);
  return q;
}

// Adds grad_d2 * d(d2)/d(vertex) to grad_x, grad_y, the nearest point's parameter held fixed
// (envelope theorem): d2 = |p - q|^2, q = (1 - t) a + t b on edge (a, b)
//   =>  d(d2)/da = -2 (p - q)(1 - t),  d(d2)/db = -2 (p - q) t.
template <typename V>
HOST_DEVICE FORCE_INLINE void nearest_boundary_point_backward(const BoundaryPoint<V>& q, V grad_d2, V* grad_x,
                                                              V* grad_y) {
  const V g = V(-2) * grad_d2;
  const V ga = g - g * q.t, gb = g * q.t;
  for (int k = 0; k < 3; ++k) {
    const int previous = (k + 2) % 3;  // the edge that ends at vertex k
    const V gk = pick(q.on[k], ga, V(0)) + pick(q.on[previous], gb, V(0));
    grad_x[k] += gk * q.rx;
    grad_y[k] += gk * q.ry;
  }
}

// Surface texel sampled by the clipped barycentrics on a triangular R x R grid.
template <typename T>
HOST_DEVICE FORCE_INLINE int surface_texel(const T* w_clip, int res) {
  const int wx = min_(int(w_clip[0] * T(res)), res - 1);
  const int wy = min_(int(w_clip[1] * T(res)), res - 1);
  if ((w_clip[0] + w_clip[1]) * T(res) - T(wx) - T(wy) <= T(1)) return wy * res + wx;
  return (res - 1 - wy) * res + (res - 1 - wx);
}

// Inclusive range of pixel columns (rows) whose centres may lie in [lo, hi] (x) or
// [lo, hi] (y); one pixel of slack on each side, exact_span below trims it.
HOST_DEVICE FORCE_INLINE void pixel_span(double lo, double hi, int size, bool rows, int& first, int& last) {
  // column c has x = (2c + 1 - S) / S  =>  c = (x S + S - 1) / 2
  // row r has y = (S - 1 - 2r) / S     =>  r = (S - 1 - y S) / 2
  double a, b;
  if (rows) {
    a = (size - 1 - hi * size) * 0.5;
    b = (size - 1 - lo * size) * 0.5;
  } else {
    a = (lo * size + size - 1) * 0.5;
    b = (hi * size + size - 1) * 0.5;
  }
  if (!(a <= b)) {  // NaN or empty
    first = 1;
    last = 0;
    return;
  }
  // Clamp in floating point first: huge coordinates must not overflow an int.
  a = a > -1.0 ? a : -1.0;
  b = b < double(size) ? b : double(size);
  first = a >= double(size) ? size : int(floor(a)) - 1;
  last = b < 0.0 ? -1 : int(ceil(b)) + 1;
  first = first < 0 ? 0 : first;
  last = last > size - 1 ? size - 1 : last;
}

// The exact columns [first, last] whose centres satisfy lo <= x <= hi (rows: lo <= y <= hi),
// the same float comparisons the coverage tests make; empty when first > last. `centres`
// optionally holds the pixel centres precomputed (pixel_x or pixel_y of every index), which
// saves the divisions.
template <typename T>
HOST_DEVICE FORCE_INLINE void exact_span(T lo, T hi, int size, bool rows, int& first, int& last,
                                         const T* centres = nullptr) {
  pixel_span(double(lo), double(hi), size, rows, first, last);
  const auto centre = [&](int i) {
    return centres ? centres[i] : rows ? pixel_y<T>(i, size) : pixel_x<T>(i, size);
  };
  if (rows) {
    while (first <= last && centre(first) > hi) ++first;
    while (last >= first && centre(last) < lo) --last;
  } else {
    while (first <= last && centre(first) < lo) ++first;
    while (last >= first && centre(last) > hi) --last;
  }
}

}  // namespace renderers
