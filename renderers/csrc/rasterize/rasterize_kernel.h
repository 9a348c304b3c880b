// Hard rasterization and Kato's approximate gradient: per-face, per-pixel and per-edge math,
// written once and called from the multi-threaded CPU loops (rasterize_cpu.cpp) and the
// CUDA kernels (rasterize_cuda.cu). Only the loops and the launch code differ.
//
// Forward (REFERENCE section 6): a face covers a pixel centre p when it is drawable
// (finite; non-degenerate: |A| > kMinArea; every z_k > 0; front-facing or double-sided) and every
// edge function E_k(p) has the sign of the signed double area A (zero counts as inside).
// Barycentrics w_k = E_k / A are clipped to [0, 1] and renormalised (barycentric_clip), then
// perspective-corrected: q_k = w_k / z_k, Q = sum q_k, w'_k = q_k / Q, depth z = 1 / Q. The
// face is kept only if near <= z <= far; the nearest face wins (the lowest index on ties).
//
// Backward, per face f (its own work item, so no atomics):
// * Kato's approximate gradient, per edge (a, b) and per axis u (x or y, v the other one): for
//   every pixel line v_j the edge spans, the crossing u_c = t_a u_a + t_b u_b, t_a = (v_j - v_b) /
//   (v_a - v_b), t_b = 1 - t_a, splits the line into the inside neighbour (the first pixel
//   centre beyond u_c on the face's side) and the outside neighbour (the pixel before it).
//   Outward pass (the inside neighbour shows f): each pixel p from the outside neighbour to the
//   image border would take the inside neighbour's colour if the edge reached it. Inward pass
//   (the outside neighbour is in the image): each pixel of f's span on that line, up to the
//   opposite edge, that shows f would take the outside neighbour's colour. For such a pixel,
//   g = sum_c (I_new - I_p)_c dL/dI_p,c is the loss change of the move; only moves that reduce
//   the loss (g < 0) count. Endpoint e in {a, b} with t_e > 0 must move by
//   d_e = (u_p - u_c) / t_e along u for the edge to reach the pixel centre, pushed away from 0
//   by eps in the direction of the move; it receives dL/du_e += g / d_e (computed as
//   (u_p - u_c) * (1 / t_e) + eps * direction).
// * Exact gradient of the colour through the perspective-corrected barycentrics (x, y and z)
//   at the pixels f shows, and the texture gradient there.
#pragma once

#include "../common/geometry.h"
#include "../common/macros.h"
#include "../common/math.h"
#include "rasterize.h"

namespace renderers {

// Scalar copy of RasterizeParams in the kernel's precision, passed by value to kernels.
template <typename T>
struct HardKernelParams {
  int size;
  int num_faces;
  int texture_size;  // colours per face: R*R, 3 or N^3
  int texture_res;   // R (surface) or N (volume)
  int texture_type;
  bool double_sided;
  T near, far, eps;
  T background[3];
};

template <typename T>
HardKernelParams<T> make_hard_params(const RasterizeParams& p, int num_faces, int texture_size) {
  HardKernelParams<T> k;
  k.size = p.image_size;
  k.num_faces = num_faces;
  k.texture_size = texture_size;
  k.texture_type = p.texture_type;
  int r = 1;
  if (p.texture_type == kNmrVolume) {
    while ((r + 1) * (r + 1) * (r + 1) <= texture_size) ++r;
  } else {
    while ((r + 1) * (r + 1) <= texture_size) ++r;
  }
  k.texture_res = r;
  k.double_sided = p.double_sided;
  k.near = T(p.near);
  k.far = T(p.far);
  k.eps = T(p.eps);
  for (int c = 0; c < 3; ++c) k.background[c] = T(p.background[c]);
  return k;
}

// Per-face quantities computed once per pass.
template <typename T>
struct HardFace {
  T x[3], y[3], z[3], inv_z[3];
  T area;                    // signed double area (|A| > kMinArea when drawable)
  T xmin, xmax, ymin, ymax;  // bounding box
  bool drawable;
};

// face: 9 values (x, y, z) x 3 vertices.
template <typename T>
HOST_DEVICE FORCE_INLINE HardFace<T> setup_hard_face(const T* face, const HardKernelParams<T>& p) {
  HardFace<T> f;
  bool positive_depth = true, finite = true;
  for (int k = 0; k < 3; ++k) {
    f.x[k] = face[3 * k + 0];
    f.y[k] = face[3 * k + 1];
    f.z[k] = face[3 * k + 2];
    positive_depth = positive_depth && f.z[k] > T(0);
    // v - v is 0 exactly for finite v, NaN for infinities and NaN
    finite = finite && f.x[k] - f.x[k] == T(0) && f.y[k] - f.y[k] == T(0) && f.z[k] - f.z[k] == T(0);
    f.inv_z[k] = f.z[k] > T(0) ? T(1) / f.z[k] : T(0);
  }
  f.area = (f.x[1] - f.x[0]) * (f.y[2] - f.y[0]) - (f.x[2] - f.x[0]) * (f.y[1] - f.y[0]);
  f.xmin = min_(min_(f.x[0], f.x[1]), f.x[2]);
  f.xmax = max_(max_(f.x[0], f.x[1]), f.x[2]);
  f.ymin = min_(min_(f.y[0], f.y[1]), f.y[2]);
  f.ymax = max_(max_(f.y[0], f.y[1]), f.y[2]);
  const bool large = f.area > T(kMinArea) || f.area < -T(kMinArea);  // false for NaN too
  // Front faces have a negative signed area in this camera (renderers/camera.py).
  f.drawable = finite && large && positive_depth && (p.double_sided || f.area < T(0));
  return f;
}

// Whether the face covers p given its edge functions e (see the file comment).
template <typename T>
HOST_DEVICE FORCE_INLINE bool edge_signs_inside(const HardFace<T>& f, const T* e) {
  return f.area > T(0) ? (e[0] >= T(0) && e[1] >= T(0) && e[2] >= T(0))
                       : (e[0] <= T(0) && e[1] <= T(0) && e[2] <= T(0));
}

template <typename T>
HOST_DEVICE FORCE_INLINE bool hard_inside(const HardFace<T>& f, T px, T py) {
  T e[3];
  for (int k = 0; k < 3; ++k) e[k] = edge_function(f.x, f.y, k, px, py);
  return edge_signs_inside(f, e);
}

// Unclipped barycentrics of p when the face covers it.
template <typename T>
HOST_DEVICE FORCE_INLINE bool hard_covers(const HardFace<T>& f, T px, T py, T* w) {
  T e[3];
  for (int k = 0; k < 3; ++k) e[k] = edge_function(f.x, f.y, k, px, py);
  if (!edge_signs_inside(f, e)) return false;
  for (int k = 0; k < 3; ++k) w[k] = e[k] / f.area;
  return true;
}

// Perspective correction of unclipped barycentrics w; what the backward needs is kept.
template <typename T>
struct Perspective {
  T w_clip[3];
  T clip_sum;
  bool clip_sum_clamped;
  T q[3];   // w_clip_k / z_k
  T Q;      // sum q_k = 1 / depth
  T wp[3];  // perspective-corrected barycentrics q_k / Q
  T depth;
};

template <typename T>
HOST_DEVICE FORCE_INLINE void perspective_correct(const HardFace<T>& f, const T* w, Perspective<T>& s) {
  barycentric_clip(w, s.w_clip, s.clip_sum, s.clip_sum_clamped);
  for (int k = 0; k < 3; ++k) s.q[k] = s.w_clip[k] * f.inv_z[k];
  s.Q = s.q[0] + s.q[1] + s.q[2];  // > 0: the clipped weights sum to 1 and every 1/z_k > 0
  for (int k = 0; k < 3; ++k) s.wp[k] = s.q[k] / s.Q;
  s.depth = T(1) / s.Q;
}

// Depth of the face at p if it covers p within [near, far].
// (Only the depth of perspective_correct, computed with the same operations: the same value.)
template <typename T>
HOST_DEVICE FORCE_INLINE bool hard_depth_at(const HardFace<T>& f, const HardKernelParams<T>& p, T px, T py, T& z) {
  T w[3];
  if (!hard_covers(f, px, py, w)) return false;
  T w_clip[3], clip_sum;
  bool clip_sum_clamped;
  barycentric_clip(w, w_clip, clip_sum, clip_sum_clamped);
  z = T(1) / (w_clip[0] * f.inv_z[0] + w_clip[1] * f.inv_z[1] + w_clip[2] * f.inv_z[2]);
  return z >= p.near && z <= p.far;  // NaN fails too
}

// Trilinear sampling of an N x N x N grid at wp * (N - 1): the corner index and weights.
template <typename T>
struct VolumeSample {
  int base[3];
  T frac[3];
};

template <typename T>
HOST_DEVICE FORCE_INLINE VolumeSample<T> volume_sample(const T* wp, int res) {
  VolumeSample<T> s;
  for (int k = 0; k < 3; ++k) {
    const T pos = wp[k] * T(res - 1);
    const int i = res > 1 ? min_(int(pos), res - 2) : 0;
    s.base[k] = i;
    s.frac[k] = res > 1 ? pos - T(i) : T(0);
  }
  return s;
}

template <typename T>
HOST_DEVICE FORCE_INLINE int volume_corner(const VolumeSample<T>& s, int res, int corner, T& weight) {
  weight = T(1);
  int index = 0;
  for (int k = 0; k < 3; ++k) {
    const int bit = (corner >> (2 - k)) & 1;
    weight *= bit ? s.frac[k] : T(1) - s.frac[k];
    index = index * res + min_(s.base[k] + bit, res - 1);
  }
  return index;
}

// Colour of a face at perspective-corrected barycentrics wp; texture is its (T, 3) block.
template <typename T>
HOST_DEVICE FORCE_INLINE void hard_sample(const T* texture, const HardKernelParams<T>& p, const T* wp, T* color) {
  for (int ch = 0; ch < 3; ++ch) color[ch] = T(0);
  if (p.texture_type == kNmrVertex) {
    for (int ch = 0; ch < 3; ++ch) color[ch] = wp[0] * texture[ch] + wp[1] * texture[3 + ch] + wp[2] * texture[6 + ch];
  } else if (p.texture_type == kNmrSurface) {
    const T* texel = texture + 3 * surface_texel(wp, p.texture_res);
    for (int ch = 0; ch < 3; ++ch) color[ch] = texel[ch];
  } else if (p.texture_type == kNmrVolume) {
    const VolumeSample<T> s = volume_sample(wp, p.texture_res);
    for (int corner = 0; corner < 8; ++corner) {
      T weight;
      const T* texel = texture + 3 * volume_corner(s, p.texture_res, corner, weight);
      for (int ch = 0; ch < 3; ++ch) color[ch] += weight * texel[ch];
    }
  }
}

// Back-propagates dL/dcolor to dL/dwp (returned) and to the face's texture block.
template <typename T>
HOST_DEVICE FORCE_INLINE void hard_sample_backward(const T* texture, const HardKernelParams<T>& p, const T* wp,
                                                   const T* grad_color, T* grad_wp, T* grad_texture) {
  for (int k = 0; k < 3; ++k) grad_wp[k] = T(0);
  if (p.texture_type == kNmrVertex) {
    for (int k = 0; k < 3; ++k)
      for (int ch = 0; ch < 3; ++ch) {
        grad_wp[k] += grad_color[ch] * texture[3 * k + ch];
        grad_texture[3 * k + ch] += wp[k] * grad_color[ch];
      }
  } else if (p.texture_type == kNmrSurface) {
    T* texel = grad_texture + 3 * surface_texel(wp, p.texture_res);
    for (int ch = 0; ch < 3; ++ch) texel[ch] += grad_color[ch];
  } else if (p.texture_type == kNmrVolume) {
    const int res = p.texture_res;
    const VolumeSample<T> s = volume_sample(wp, res);
    for (int corner = 0; corner < 8; ++corner) {
      T weight;
      const int index = volume_corner(s, res, corner, weight);
      T dot = T(0);
      for (int ch = 0; ch < 3; ++ch) {
        grad_texture[3 * index + ch] += weight * grad_color[ch];
        dot += grad_color[ch] * texture[3 * index + ch];
      }
      if (res == 1) continue;
      // d(weight)/d(wp_k) = (N - 1) * (+-1) * product of the other two factors
      for (int k = 0; k < 3; ++k) {
        T partial = T(res - 1);
        for (int m = 0; m < 3; ++m) {
          const int bit = (corner >> (2 - m)) & 1;
          if (m == k)
            partial *= bit ? T(1) : T(-1);
          else
            partial *= bit ? s.frac[m] : T(1) - s.frac[m];
        }
        grad_wp[k] += partial * dot;
      }
    }
  }
}

// Writes pixel (row, col) for winning face `face_id` (-1: empty). image: (4, S, S) of this
// image; face_index, depth: (S, S); weights: (S, S, 3).
template <typename T>
HOST_DEVICE FORCE_INLINE void write_hard_pixel(const HardFace<T>* faces, const T* textures,
                                               const HardKernelParams<T>& p, int row, int col, int face_id, T* image,
                                               int32_t* face_index, T* weights, T* depth) {
  const int size = p.size;
  const int64_t plane = int64_t(size) * size;
  const int64_t pix = int64_t(row) * size + col;
  face_index[pix] = face_id;
  const bool colour = p.texture_type != kNmrNoTexture;
  if (face_id < 0) {
    for (int ch = 0; ch < 3; ++ch) image[ch * plane + pix] = colour ? p.background[ch] : T(0);
    image[3 * plane + pix] = T(0);
    for (int k = 0; k < 3; ++k) weights[3 * pix + k] = T(0);
    depth[pix] = p.far;
    return;
  }
  const HardFace<T>& f = faces[face_id];
  T w[3] = {T(0), T(0), T(0)};
  hard_covers(f, pixel_x<T>(col, size), pixel_y<T>(row, size), w);
  Perspective<T> s;
  perspective_correct(f, w, s);
  for (int k = 0; k < 3; ++k) weights[3 * pix + k] = s.wp[k];
  depth[pix] = s.depth;
  T color[3] = {T(0), T(0), T(0)};
  if (colour) hard_sample(textures + int64_t(face_id) * p.texture_size * 3, p, s.wp, color);
  for (int ch = 0; ch < 3; ++ch) image[ch * plane + pix] = color[ch];
  image[3 * plane + pix] = T(1);
}

// The nearest face at pixel (row, col) over all faces in order (the CUDA forward; the CPU
// forward visits the same (face, pixel) pairs face-major with the same comparisons).
template <typename T>
HOST_DEVICE FORCE_INLINE int nearest_face(const HardFace<T>* faces, const HardKernelParams<T>& p, int row, int col) {
  const T px = pixel_x<T>(col, p.size), py = pixel_y<T>(row, p.size);
  int best = -1;
  T best_z = T(0);
  for (int fi = 0; fi < p.num_faces; ++fi) {
    const HardFace<T>& f = faces[fi];
    if (!f.drawable || px < f.xmin || px > f.xmax || py < f.ymin || py > f.ymax) continue;
    T z;
    if (hard_depth_at(f, p, px, py, z) && (best < 0 || z < best_z)) {
      best = fi;
      best_z = z;
    }
  }
  return best;
}

// What the backward reads of one image: image and grad_image (4, S, S), face_index (S, S).
template <typename T>
struct HardMaps {
  const T* image;
  const T* grad;
  const int32_t* face_index;
  int64_t plane;
  int size;
  int first_channel;  // 3 for silhouettes (the RGB channels are identically zero), else 0
  // Optional (the CPU passes them): per axis, the pixels' pairs (I_c, dL/dI_c), c = first_channel..3,
  // in scan order (line j, position i; see axis_pixel), so that the edge scans read contiguous
  // memory; null: the scans read the planes above. Same values, same sums either way.
  const T* packed[2];
  // Optional (the CPU passes them for silhouettes): per axis and line j, the positions
  // negative_position[j S .. j S + negative_count[j]) (ascending) of the pixels whose outward-pass
  // loss change (1 - A) dL/dA is negative, and those values (same indices). The outward scans
  // then visit only pixels that contribute, in the same order with the same values.
  const int32_t* negative_count[2];
  const int32_t* negative_position[2];
  const T* negative_value[2];
  // Optional (the CPU passes it): per face, nonzero if it shows at some pixel. Every term of a
  // face's backward needs a pixel showing it, so faces marked 0 are skipped (null: none are).
  const uint8_t* shown;
};

// Values per pixel in HardMaps::packed.
HOST_DEVICE FORCE_INLINE int packed_width(int first_channel) { return 2 * (4 - first_channel); }

// Pixel (along i, across j) of axis 0 (u = x, lines are rows) or axis 1 (u = y, lines are
// columns) as a flat index; u_i = pixel_x(i), v_j = pixel_x(j) in both cases.
HOST_DEVICE FORCE_INLINE int64_t axis_pixel(int axis, int i, int j, int size) {
  return axis == 0 ? int64_t(size - 1 - j) * size + i : int64_t(size - 1 - i) * size + j;
}

// sum_c (I_src - I_p)_c dL/dI_p,c for pixel (i, j) of an axis
template <typename T>
HOST_DEVICE FORCE_INLINE T loss_change(const HardMaps<T>& m, const T* source, int axis, int i, int j) {
  T g = T(0);
  if (m.packed[axis]) {
    const T* record = m.packed[axis] + (int64_t(j) * m.size + i) * packed_width(m.first_channel);
    for (int ch = m.first_channel; ch < 4; ++ch, record += 2) g += (source[ch] - record[0]) * record[1];
    return g;
  }
  const int64_t pix = axis_pixel(axis, i, j, m.size);
  for (int ch = m.first_channel; ch < 4; ++ch)
    g += (source[ch] - m.image[ch * m.plane + pix]) * m.grad[ch * m.plane + pix];
  return g;
}

// First index k in [lo, hi) with positions[k] >= target (hi if none).
HOST_DEVICE FORCE_INLINE int32_t lower_bound_index(const int32_t* positions, int32_t lo, int32_t hi, int target) {
  while (lo < hi) {
    const int32_t mid = lo + (hi - lo) / 2;
    if (positions[mid] < target)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

// dL/du of the edge's endpoints for a loss-reducing move (g < 0) to pixel centre u_p; inv_t_e is
// 1 / t_e, or 0 for an endpoint that cannot move the edge on this line (t_e = 0).
template <typename T>
HOST_DEVICE FORCE_INLINE void kato_contribution(T g, T u_p, T u_c, T inv_t_a, T inv_t_b, T direction, T eps,
                                                T& grad_a, T& grad_b) {
  const T distance = u_p - u_c;
  if (inv_t_a > T(0)) grad_a += g / (distance * inv_t_a + direction * eps);
  if (inv_t_b > T(0)) grad_b += g / (distance * inv_t_b + direction * eps);
}

// Kato's approximate gradient of one edge (a -> b) of face `face_id` along one axis;
// accumulates into grad_u[3] (x for axis 0, y for axis 1).
template <typename T>
HOST_DEVICE FORCE_INLINE void kato_edge(const HardFace<T>& f, const HardKernelParams<T>& p, const HardMaps<T>& m,
                                        int face_id, int axis, int a, int b, T* grad_u) {
  const int size = m.size;
  const T* u = axis == 0 ? f.x : f.y;
  const T* v = axis == 0 ? f.y : f.x;
  const T dv = v[a] - v[b];
  if (dv == T(0)) return;  // parallel to the axis: crosses no line
  // The face's side: dE/du = v_a - v_b for the edge function vanishing on this edge, whose sign
  // inside is that of the area computed in (u, v) (which flips with the axes).
  const T area_uv = axis == 0 ? f.area : -f.area;
  const int side = dv * area_uv > T(0) ? 1 : -1;
  int j0, j1;
  exact_span(min_(v[a], v[b]), max_(v[a], v[b]), size, false, j0, j1);
  for (int j = j0; j <= j1; ++j) {
    const T vj = pixel_x<T>(j, size);
    const T t_a = (vj - v[b]) / dv;
    const T t_b = T(1) - t_a;
    const T u_c = t_a * u[a] + t_b * u[b];
    const T inv_t_a = t_a > T(0) ? T(1) / t_a : T(0), inv_t_b = t_b > T(0) ? T(1) / t_b : T(0);
    // The inside neighbour: the first pixel centre strictly beyond u_c on the face's side.
    double q = (double(u_c) * size + size - 1) * 0.5;
    q = q < -2.0 ? -2.0 : (q > size + 1.0 ? size + 1.0 : q);
    int in;
    if (side > 0) {
      in = int(floor(q)) + 1;
      in = in < 0 ? 0 : (in > size ? size : in);
      while (in > 0 && pixel_x<T>(in - 1, size) > u_c) --in;
      while (in < size && !(pixel_x<T>(in, size) > u_c)) ++in;
    } else {
      in = int(ceil(q)) - 1;
      in = in < -1 ? -1 : (in > size - 1 ? size - 1 : in);
      while (in < size - 1 && pixel_x<T>(in + 1, size) < u_c) ++in;
      while (in >= 0 && !(pixel_x<T>(in, size) < u_c)) --in;
    }
    const int out = in - side;
    const bool in_image = in >= 0 && in < size, out_image = out >= 0 && out < size;
    T source[4];
    // Outward: the edge moves out over the pixels beyond it, which would take the face's colour.
    if (in_image && m.face_index[axis_pixel(axis, in, j, size)] == face_id) {
      const int64_t src = axis_pixel(axis, in, j, size);
      for (int ch = 0; ch < 4; ++ch) source[ch] = m.image[ch * m.plane + src];
      if (m.negative_count[axis] && m.first_channel == 3 && source[3] == T(1)) {
        // Silhouettes: only the listed pixels have g = (1 - A) dL/dA < 0.
        const int32_t* positions = m.negative_position[axis];
        const T* values = m.negative_value[axis];
        const int32_t lo = j * size, hi = lo + m.negative_count[axis][j];
        if (side > 0) {  // i = out, out - 1, ..., 0
          for (int32_t k = lower_bound_index(positions, lo, hi, out + 1) - 1; k >= lo; --k)
            kato_contribution(values[k], pixel_x<T>(positions[k], size), u_c, inv_t_a, inv_t_b, T(-side), p.eps,
                              grad_u[a], grad_u[b]);
        } else {  // i = out, out + 1, ..., size - 1
          for (int32_t k = lower_bound_index(positions, lo, hi, out); k < hi; ++k)
            kato_contribution(values[k], pixel_x<T>(positions[k], size), u_c, inv_t_a, inv_t_b, T(-side), p.eps,
                              grad_u[a], grad_u[b]);
        }
      } else {
        for (int i = out; i >= 0 && i < size; i -= side) {
          const T g = loss_change(m, source, axis, i, j);
          if (g < T(0))
            kato_contribution(g, pixel_x<T>(i, size), u_c, inv_t_a, inv_t_b, T(-side), p.eps, grad_u[a], grad_u[b]);
        }
      }
    }
    // Inward: the edge moves in over the face's own pixels, which would take the outside colour.
    if (out_image && in_image) {
      const int64_t src = axis_pixel(axis, out, j, size);
      for (int ch = 0; ch < 4; ++ch) source[ch] = m.image[ch * m.plane + src];
      for (int i = in; i >= 0 && i < size; i += side) {
        const T pu = pixel_x<T>(i, size);
        const T px = axis == 0 ? pu : vj, py = axis == 0 ? vj : pu;
        if (!hard_inside(f, px, py)) break;  // past the opposite edge
        const int64_t pix = axis_pixel(axis, i, j, size);
        if (m.face_index[pix] != face_id) continue;  // occluded here
        const T g = loss_change(m, source, axis, i, j);
        if (g < T(0)) kato_contribution(g, pu, u_c, inv_t_a, inv_t_b, T(side), p.eps, grad_u[a], grad_u[b]);
      }
    }
  }
}

// Exact gradient of the colour at a pixel the face shows, through the perspective-corrected
// barycentrics, into grad_x/y/z[3] and the face's texture block.
template <typename T>
HOST_DEVICE FORCE_INLINE void colour_backward_pixel(const HardFace<T>& f, const T* texture,
                                                    const HardKernelParams<T>& p, T px, T py, const T* grad_color, T* grad_x, T* grad_y, T* grad_z,
                                                    T* grad_texture) {
  T w[3];
  if (!hard_covers(f, px, py, w)) return;  // cannot happen for a pixel the face won
  Perspective<T> s;
  perspective_correct(f, w, s);
  T grad_wp[3];
  hard_sample_backward(texture, p, s.wp, grad_color, grad_wp, grad_texture);
  if (grad_wp[0] == T(0) && grad_wp[1] == T(0) && grad_wp[2] == T(0)) return;
  // wp_k = q_k / Q  =>  dL/dq_k = (dL/dwp_k - sum_m dL/dwp_m wp_m) / Q
  const T dot = grad_wp[0] * s.wp[0] + grad_wp[1] * s.wp[1] + grad_wp[2] * s.wp[2];
  T grad_clip[3], grad_w[3];
  for (int k = 0; k < 3; ++k) {
    const T grad_q = (grad_wp[k] - dot) / s.Q;
    grad_clip[k] = grad_q * f.inv_z[k];        // q_k = w_clip_k / z_k
    grad_z[k] -= grad_q * s.q[k] * f.inv_z[k];  // dq_k/dz_k = -q_k / z_k
  }
  barycentric_clip_backward(w, s.w_clip, s.clip_sum, s.clip_sum_clamped, grad_clip, grad_w);
  barycentric_backward(f.x, f.y, f.area, false, w, grad_w, px, py, grad_x, grad_y);
}

// The whole backward of one face: writes its 9 vertex gradients and (when textured) its
// texture gradient block. face and texture point at this face; maps describe its image.
template <typename T>
HOST_DEVICE FORCE_INLINE void hard_backward_face(const T* face, const T* texture, const HardKernelParams<T>& p,
                                                 const HardMaps<T>& m, int face_id, T* grad_face, T* grad_texture) {
  const HardFace<T> f = setup_hard_face(face, p);
  T gx[3] = {T(0), T(0), T(0)}, gy[3] = {T(0), T(0), T(0)}, gz[3] = {T(0), T(0), T(0)};
  if (f.drawable && (m.shown == nullptr || m.shown[face_id])) {
    for (int k = 0; k < 3; ++k) {
      kato_edge(f, p, m, face_id, 0, k, (k + 1) % 3, gx);
      kato_edge(f, p, m, face_id, 1, k, (k + 1) % 3, gy);
    }
    if (p.texture_type != kNmrNoTexture) {
      const int size = m.size;
      int r0, r1, c0, c1;
      exact_span(f.ymin, f.ymax, size, true, r0, r1);
      exact_span(f.xmin, f.xmax, size, false, c0, c1);
      for (int r = r0; r <= r1; ++r) {
        for (int c = c0; c <= c1; ++c) {
          const int64_t pix = int64_t(r) * size + c;
          if (m.face_index[pix] != face_id) continue;
          const T grad_color[3] = {m.grad[pix], m.grad[m.plane + pix], m.grad[2 * m.plane + pix]};
          if (grad_color[0] == T(0) && grad_color[1] == T(0) && grad_color[2] == T(0)) continue;
          colour_backward_pixel(f, texture, p, pixel_x<T>(c, size), pixel_y<T>(r, size), grad_color, gx, gy, gz,
                                grad_texture);
        }
      }
    }
  }
  for (int k = 0; k < 3; ++k) {
    grad_face[3 * k + 0] = gx[k];
    grad_face[3 * k + 1] = gy[k];
    grad_face[3 * k + 2] = gz[k];
  }
}

}  // namespace renderers
