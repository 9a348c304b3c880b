// SoftRas per-face and per-(face, pixel) math, written once and called from the
// multi-threaded CPU loops (soft_rasterize_cpu.cpp) and the CUDA kernels
// (soft_rasterize_launch.h). Only the loops, the launch code and the memory layout differ.
//
// The per-(face, pixel) functions (soft_sample, alpha_update, alpha_logit_gradient,
// coverage_backward, silhouette_backward_pair) are lane-generic: written once over a value
// type V holding one pixel (V = T: CUDA, the scalar CPU path, colour rendering) or a block of
// pixels (V = a pack of float lanes, common/lanes.h: the CPU silhouette path, 4, 8 or 16 lanes
// chosen at run time). The face's own quantities (FaceSetup) stay scalar.
//
// For face j at pixel p (REFERENCE section 5):
//   x_j = delta * d^2 / sigma (euclidean) or sign(m) m^2 / sigma, m = min_k w_k (barycentric)
//   D_j = sigmoid(x_j), 1 - D_j = sigmoid(-x_j)
//   alpha  prod: A = 1 - prod_j (1 - D_j)  (products below the smallest normal flush to 0)
//          sum:  A = sum_j D_j / F         (as the reference implementation normalises it)
//          hard: A = [any D_j > 0.5]
//   colour softmax: z_n = (far - z) / (far - near), weights D_j exp(z_n / gamma) and
//          exp(eps / gamma) for the background; hard: the nearest face covering p.
#pragma once

#include "../common/geometry.h"
#include "../common/macros.h"
#include "../common/math.h"
#include "../common/tile_bins.h"
#include "soft_rasterize.h"

namespace renderers {

// Scalar copy of SoftRasParams in the kernel's precision, passed by value to kernels.
template <typename T>
struct SoftKernelParams {
  int size;
  int num_faces;
  int texture_size;  // T: R*R (surface) or 3 (vertex)
  int texture_res;   // R for surface textures
  int dist_func, aggr_alpha, aggr_rgb, texture_type;
  bool double_sided;
  T inv_sigma, inv_gamma, cull_threshold, cull_radius;
  T near, far, inv_depth_range, eps;
  T background[3];
};

template <typename T>
SoftKernelParams<T> make_kernel_params(const SoftRasParams& p, int num_faces, int texture_size) {
  SoftKernelParams<T> k;
  k.size = p.image_size;
  k.num_faces = num_faces;
  k.texture_size = texture_size;
  int r = 1;
  while ((r + 1) * (r + 1) <= texture_size) ++r;
  k.texture_res = r;
  k.dist_func = p.dist_func;
  k.aggr_alpha = p.aggr_alpha;
  k.aggr_rgb = p.aggr_rgb;
  k.texture_type = p.texture_type;
  k.double_sided = p.double_sided;
  k.inv_sigma = T(1.0 / p.sigma);
  k.inv_gamma = T(1.0 / p.gamma);
  const T threshold = T(p.cull_threshold());
  k.cull_threshold = threshold;
  k.cull_radius = T(std::sqrt(double(threshold)));
  k.near = T(p.near);
  k.far = T(p.far);
  k.inv_depth_range = T(1.0 / (p.far - p.near));
  k.eps = T(p.eps);
  for (int c = 0; c < 3; ++c) k.background[c] = T(p.background[c]);
  return k;
}

// Per-face quantities computed once per forward/backward.
template <typename T>
struct FaceSetup {
  T x[3], y[3], inv_z[3];
  T ex[3], ey[3], inv_len2[3];  // edge k = vertex k+1 - vertex k
  T wa[3], wb[3], wc[3];        // barycentric w_k = wa_k * px + wb_k * py + wc_k
  T area;                       // signed double area, clamped away from 0
  T altitude[3];                // |area| / |edge opposite vertex k| (0 for a zero-length edge)
  T xmin, xmax, ymin, ymax;     // bounding box grown by the cull radius
  bool area_clamped;
  bool visible;                 // false for back faces when rendering single-sided
};

// face: 9 values (x, y, z) x 3 vertices.
template <typename T>
HOST_DEVICE FORCE_INLINE FaceSetup<T> setup_face(const T* face, const SoftKernelParams<T>& p) {
  FaceSetup<T> f;
  bool in_front = true;  // the near-plane policy of every renderer: no corner nearer than near
  for (int k = 0; k < 3; ++k) {
    f.x[k] = face[3 * k + 0];
    f.y[k] = face[3 * k + 1];
    const T z = face[3 * k + 2];
    in_front = in_front && z >= p.near && z - z == T(0);  // false for NaN and infinite depths
    f.inv_z[k] = in_front ? T(1) / z : T(1);
  }
  for (int k = 0; k < 3; ++k) {
    const int n = (k + 1) % 3;
    f.ex[k] = f.x[n] - f.x[k];
    f.ey[k] = f.y[n] - f.y[k];
    const T len2 = f.ex[k] * f.ex[k] + f.ey[k] * f.ey[k];
    f.inv_len2[k] = len2 > T(0) ? T(1) / len2 : T(0);
  }
  f.area = signed_area_clamped(f.x, f.y, f.area_clamped);
  for (int k = 0; k < 3; ++k) {
    const int i = (k + 1) % 3, j = (k + 2) % 3;
    // E_k(p) = (x_i y_j - x_j y_i) + px (y_i - y_j) + py (x_j - x_i)
    f.wa[k] = (f.y[i] - f.y[j]) / f.area;
    f.wb[k] = (f.x[j] - f.x[i]) / f.area;
    f.wc[k] = (f.x[i] * f.y[j] - f.x[j] * f.y[i]) / f.area;
  }
  const T abs_area = f.area > T(0) ? f.area : -f.area;
  for (int k = 0; k < 3; ++k) {
    const int opposite = (k + 1) % 3;  // edge k+1 joins vertices k+1 and k+2
    f.altitude[k] = f.inv_len2[opposite] > T(0) ? abs_area * sqrt_(f.inv_len2[opposite]) : T(0);
  }
  const T r = p.cull_radius;
  f.xmin = min_(min_(f.x[0], f.x[1]), f.x[2]) - r;
  f.xmax = max_(max_(f.x[0], f.x[1]), f.x[2]) + r;
  f.ymin = min_(min_(f.y[0], f.y[1]), f.y[2]) - r;
  f.ymax = max_(max_(f.y[0], f.y[1]), f.y[2]) + r;
  // Front faces have a negative signed area in this camera (renderers/camera.py).
  const T raw_area = (f.x[1] - f.x[0]) * (f.y[2] - f.y[0]) - (f.x[2] - f.x[0]) * (f.y[1] - f.y[0]);
  f.visible = p.double_sided || raw_area < T(0);
  // Not drawn: a corner nearer than near, non-finite corners, or a face whose area or edge lengths
  // overflow the precision (v - v is 0 exactly for finite v only).
  const T len2_sum = f.ex[0] * f.ex[0] + f.ey[0] * f.ey[0] + f.ex[1] * f.ex[1] + f.ey[1] * f.ey[1] +
                     f.ex[2] * f.ex[2] + f.ey[2] * f.ey[2];
  const bool finite = raw_area - raw_area == T(0) && len2_sum - len2_sum == T(0) && f.xmin - f.xmin == T(0) &&
                      f.xmax - f.xmax == T(0) && f.ymin - f.ymin == T(0) && f.ymax - f.ymax == T(0);
  if (!(in_front && finite)) f.visible = false;
  return f;
}

// Coverage of one face at one pixel (or a block of pixels, lane-wise).
template <typename V>
struct SoftSample {
  V w[3];             // unclipped barycentrics
  V logit;            // x_j
  V D, complement;    // sigmoid(x_j), 1 - sigmoid(x_j)
  BoundaryPoint<V> nearest;  // euclidean: the nearest boundary point (common/geometry.h)
  V m;                       // barycentric: the smallest w
  mask_t<V> smallest[3];     // barycentric: the smallest w's index
  mask_t<V> inside;   // strictly inside the face
  mask_t<V> keep;     // within the span and not culled: the face's coverage is at least dist_eps
};
template <typename T>
using Coverage = SoftSample<T>;

// Whether soft_sample first rejects pixels by a cheap bound (scalars: it skips the exponential);
// packs evaluate every lane without the branch.
template <typename V>
constexpr bool kEarlyCull = sizeof(V) == sizeof(lane_scalar_t<V>);

// Coverage of face f at pixel centres (px, py) in its grown box, for the lanes of `span`. Lanes
// outside span, or where the coverage would be below dist_eps, get keep false; the other fields
// are only meaningful where keep is true (and are left unset when no lane is kept).
template <typename V, typename T>
HOST_DEVICE FORCE_INLINE SoftSample<V> soft_sample(const FaceSetup<T>& f, const SoftKernelParams<T>& p, V px, V py,
                                                   mask_t<V> span) {
  SoftSample<V> s;
  for (int k = 0; k < 3; ++k) s.w[k] = px * f.wa[k] + py * f.wb[k] + f.wc[k];
  s.inside = (s.w[0] > V(0)) & (s.w[1] > V(0)) & (s.w[2] > V(0)) & (s.w[0] < V(1)) & (s.w[1] < V(1)) &
             (s.w[2] < V(1));
  if (p.dist_func == kEuclidean) {
    // Cheap early cull: the distance to the triangle is at least the distance to the line of any
    // edge the pixel lies beyond (w_k < 0); a small margin leaves rounding-level cases to the
    // exact test below.
    s.keep = span;
    if constexpr (kEarlyCull<V>) {
      mask_t<V> beyond = no_lanes<V>();
      for (int k = 0; k < 3; ++k) {
        const V line = s.w[k] * f.altitude[k];
        beyond = beyond | ((s.w[k] < V(0)) & (line * line >= p.cull_threshold * T(1.001)));
      }
      s.keep = span & (s.inside | !beyond);
      if (!any_lane(s.keep)) return s;
    }
    s.nearest = nearest_boundary_point(f.x, f.y, f.ex, f.ey, f.inv_len2, px, py);
    const V d2 = s.nearest.d2;
    s.keep = s.keep & (s.inside | (d2 < p.cull_threshold));
    s.logit = pick(s.inside, d2, -d2) * p.inv_sigma;
    // sigmoid(+-d2 / sigma) from e = exp(-d2 / sigma): inside 1 / (1 + e), else e / (1 + e)
    const V e = exp_nonpositive(d2 * -p.inv_sigma);
    const V inv = reciprocal_1_2(V(1) + e);
    s.D = pick(s.inside, inv, e * inv);
    s.complement = pick(s.inside, e * inv, inv);
    return s;
  }
  const auto one = s.w[1] < s.w[0];
  s.m = pick(one, s.w[1], s.w[0]);
  const auto two = s.w[2] < s.m;
  s.m = pick(two, s.w[2], s.m);
  s.smallest[2] = two;
  s.smallest[1] = one & !two;
  s.smallest[0] = !(one | two);
  const V dis = pick(s.m > V(0), s.m * s.m, -(s.m * s.m));
  s.keep = span & !(-dis >= p.cull_threshold);
  s.logit = dis * p.inv_sigma;
  sigmoid_pair(s.logit, s.D, s.complement);
  return s;
}

// Coverage of a pixel known to lie in the face's grown box: returns false when the face's
// coverage would be below dist_eps there; otherwise fills c.
template <typename T>
HOST_DEVICE FORCE_INLINE bool coverage_in_box(const FaceSetup<T>& f, const SoftKernelParams<T>& p, T px, T py,
                                              Coverage<T>& c) {
  c = soft_sample<T>(f, p, px, py, true);
  return c.keep;
}

// As coverage_in_box, for any pixel: false outside the face's grown bounding box too.
template <typename T>
HOST_DEVICE FORCE_INLINE bool evaluate_coverage(const FaceSetup<T>& f, const SoftKernelParams<T>& p, T px, T py,
                                                Coverage<T>& c) {
  if (px < f.xmin || px > f.xmax || py < f.ymin || py > f.ymax) return false;
  return coverage_in_box(f, p, px, py, c);
}

// Clipped barycentrics and perspective-correct depth; false when z is outside [near, far].
template <typename T>
struct Depth {
  T w_clip[3];
  T clip_sum;
  bool clip_sum_clamped;
  T z;
};

template <typename T>
HOST_DEVICE FORCE_INLINE bool evaluate_depth(const FaceSetup<T>& f, const SoftKernelParams<T>& p,
                                             const Coverage<T>& c, Depth<T>& d) {
  barycentric_clip(c.w, d.w_clip, d.clip_sum, d.clip_sum_clamped);
  d.z = T(1) / (d.w_clip[0] * f.inv_z[0] + d.w_clip[1] * f.inv_z[1] + d.w_clip[2] * f.inv_z[2]);
  return d.z >= p.near && d.z <= p.far;  // NaN depths fail too
}

// Colour of a face at a pixel; texture points at this face's (T, 3) block.
template <typename T>
HOST_DEVICE FORCE_INLINE void sample_texture(const T* texture, const SoftKernelParams<T>& p, const T* w_clip,
                                             T* color) {
  if (p.texture_type == kSurfaceTexture) {
    const T* texel = texture + 3 * surface_texel(w_clip, p.texture_res);
    for (int ch = 0; ch < 3; ++ch) color[ch] = texel[ch];
  } else {
    for (int ch = 0; ch < 3; ++ch)
      color[ch] = w_clip[0] * texture[ch] + w_clip[1] * texture[3 + ch] + w_clip[2] * texture[6 + ch];
  }
}

// Alpha aggregation state of a pixel: prod keeps prod_j (1 - D_j) (flushed to 0 below
// the smallest normal, so deep interiors never hit slow subnormals), sum keeps sum_j D_j,
// hard keeps 0 or 1.
template <typename T>
HOST_DEVICE FORCE_INLINE T alpha_initial(int mode) {
  return mode == kAlphaProd ? T(1) : T(0);
}

// The state after the face of sample s (lane-wise; lanes that s does not keep are unchanged).
template <typename V>
HOST_DEVICE FORCE_INLINE V alpha_update(V state, const SoftSample<V>& s, int mode) {
  if (mode == kAlphaProd) {
    const V next = state * pick(s.keep, s.complement, V(1));
    return pick(next < V(smallest_normal<lane_scalar_t<V>>()), V(0), next);
  }
  if (mode == kAlphaSum) return state + pick(s.keep, s.D, V(0));
  return pick(s.keep & (s.D > V(0.5)), V(1), state);
}

// Alpha of the pixel and the aux value its backward needs (prod: prod_j (1 - D_j)).
template <typename T>
HOST_DEVICE FORCE_INLINE void alpha_finalize(T state, const SoftKernelParams<T>& p, T& alpha, T& aux) {
  if (p.aggr_alpha == kAlphaProd) {
    alpha = T(1) - state;
    aux = state;
  } else {
    // sum over no faces: the state is 0 and so is the alpha (not 0 / 0)
    alpha = p.aggr_alpha == kAlphaSum ? (p.num_faces > 0 ? state / T(p.num_faces) : T(0)) : state;
    aux = T(0);
  }
}

// dL/d(logit_j) of the alpha channel, given g = dL/dA times alpha_gradient_scale.
template <typename T>
HOST_DEVICE FORCE_INLINE T alpha_gradient_scale(T grad_alpha, T aux, const SoftKernelParams<T>& p) {
  // prod: A = 1 - prod_k (1 - D_k), dD/dx = D (1 - D)  =>  dA/dx_j = prod_k (1 - D_k) D_j
  // sum:  A = sum_k D_k / F                           =>  dA/dx_j = D_j (1 - D_j) / F
  if (p.aggr_alpha == kAlphaProd) return grad_alpha * aux;
  if (p.aggr_alpha == kAlphaSum) return p.num_faces > 0 ? grad_alpha / T(p.num_faces) : T(0);
  return T(0);
}

template <typename T>
HOST_DEVICE FORCE_INLINE T alpha_logit_gradient(T scaled, T D, T complement, int mode) {
  return mode == kAlphaProd ? scaled * D : mode == kAlphaSum ? scaled * D * complement : T(0);
}

// Per-pixel running state of the aggregation.
template <typename T>
struct PixelAccumulator {
  T alpha_state;        // prod: prod_j (1 - D_j); sum: sum_j D_j; hard: 0 or 1 (alpha_update)
  T depth_max;          // softmax: running maximum of z_n (starts at eps); hard: nearest z
  T weight_sum;         // softmax: sum of weights, scaled by exp(-depth_max / gamma)
  T color[3];           // softmax: weighted colour sum, same scale; hard: winning colour
  int face;             // hard: winning face (-1: background)
};

template <typename T>
HOST_DEVICE FORCE_INLINE void init_pixel(PixelAccumulator<T>& a, const SoftKernelParams<T>& p) {
  a.alpha_state = alpha_initial<T>(p.aggr_alpha);
  a.face = -1;
  if (p.aggr_rgb == kRgbSoftmax) {
    a.depth_max = p.eps;
    a.weight_sum = T(1);  // exp((eps - depth_max) / gamma)
  } else {
    a.depth_max = p.far;
    a.weight_sum = T(0);
  }
  for (int ch = 0; ch < 3; ++ch) a.color[ch] = p.background[ch];
}

// Adds face `face_index` (already known to cover the pixel with coverage c) to the pixel.
template <typename T>
HOST_DEVICE FORCE_INLINE void accumulate_face(PixelAccumulator<T>& a, const FaceSetup<T>& f, const T* texture,
                                              const SoftKernelParams<T>& p, const Coverage<T>& c, int face_index) {
  const T D = c.D;
  a.alpha_state = alpha_update(a.alpha_state, c, p.aggr_alpha);
  if (p.aggr_rgb == kRgbNone) return;
  Depth<T> d;
  if (!evaluate_depth(f, p, c, d)) return;
  if (p.aggr_rgb == kRgbSoftmax) {
    const T zn = (p.far - d.z) * p.inv_depth_range;
    if (zn > a.depth_max) {
      const T rescale = exp_nonpositive((a.depth_max - zn) * p.inv_gamma);
      a.weight_sum *= rescale;
      for (int ch = 0; ch < 3; ++ch) a.color[ch] *= rescale;
      a.depth_max = zn;
    }
    const T weight = D * exp_nonpositive((zn - a.depth_max) * p.inv_gamma);
    T color[3];
    sample_texture(texture, p, d.w_clip, color);
    a.weight_sum += weight;
    for (int ch = 0; ch < 3; ++ch) a.color[ch] += weight * color[ch];
  } else {
    // Hard: ordinary z-buffer over faces that contain the pixel (closed triangle).
    const bool contains = c.w[0] >= T(0) && c.w[1] >= T(0) && c.w[2] >= T(0) && c.w[0] <= T(1) &&
                          c.w[1] <= T(1) && c.w[2] <= T(1);
    if (contains && d.z < a.depth_max) {
      a.depth_max = d.z;
      a.face = face_index;
      sample_texture(texture, p, d.w_clip, a.color);
    }
  }
}

// Writes the pixel's outputs: rgba[4] and aux[3] (see soft_rasterize.h).
template <typename T>
HOST_DEVICE FORCE_INLINE void finalize_pixel(const PixelAccumulator<T>& a, const SoftKernelParams<T>& p, T* rgba,
                                             T* aux) {
  alpha_finalize(a.alpha_state, p, rgba[3], aux[0]);
  if (p.aggr_rgb == kRgbSoftmax) {
    for (int ch = 0; ch < 3; ++ch) rgba[ch] = a.color[ch] / a.weight_sum;
    aux[1] = a.depth_max;
    aux[2] = a.weight_sum;
  } else if (p.aggr_rgb == kRgbHard) {
    for (int ch = 0; ch < 3; ++ch) rgba[ch] = a.color[ch];
    aux[1] = a.depth_max;
    aux[2] = T(a.face);
  } else {
    for (int ch = 0; ch < 3; ++ch) rgba[ch] = T(0);
    aux[1] = T(0);
    aux[2] = T(0);
  }
}

// Finalises the pixel and stores it in image (4, S, S) and aux (3, S, S).
template <typename T>
HOST_DEVICE FORCE_INLINE void write_pixel(const PixelAccumulator<T>& a, const SoftKernelParams<T>& p, int row,
                                          int col, T* image, T* aux) {
  T rgba[4], extra[3];
  finalize_pixel(a, p, rgba, extra);
  const int plane = p.size * p.size, pix = row * p.size + col;
  for (int ch = 0; ch < 4; ++ch) image[ch * plane + pix] = rgba[ch];
  for (int ch = 0; ch < 3; ++ch) aux[ch * plane + pix] = extra[ch];
}

// What the backward of one pixel needs: upstream gradient and the forward's results.
template <typename T>
struct PixelGradient {
  T grad[4];   // dL/d(R, G, B, A)
  T rgba[4];   // forward output
  T aux[3];    // forward aux
};

// Gradient of one face with respect to its screen vertices and its texture block.
template <typename T>
struct FaceGradient {
  T x[3], y[3], z[3];
};

// Back-propagates dL/d(logit) of sample s (and dL/dw of its unclipped barycentrics, from the
// colour, or null) to the face's screen vertices, adding to grad_x, grad_y (lane-generic).
template <typename V, typename T>
HOST_DEVICE FORCE_INLINE void coverage_backward(const FaceSetup<T>& f, const SoftKernelParams<T>& p,
                                                const SoftSample<V>& s, V grad_logit, const V* grad_w_colour, V px,
                                                V py, V* grad_x, V* grad_y) {
  V grad_w[3];
  for (int k = 0; k < 3; ++k) grad_w[k] = grad_w_colour ? grad_w_colour[k] : V(0);
  if (p.dist_func == kEuclidean) {
    // x = +-d2 / sigma (+ inside)
    const V grad_d2 = grad_logit * pick(s.inside, V(p.inv_sigma), V(-p.inv_sigma));
    nearest_boundary_point_backward(s.nearest, grad_d2, grad_x, grad_y);
    if (!grad_w_colour) return;
  } else {
    // x = sign(m) m^2 / sigma  =>  dx/dm = 2 |m| / sigma
    const V grad_m = grad_logit * T(2) * abs_(s.m) * p.inv_sigma;
    for (int k = 0; k < 3; ++k) grad_w[k] += pick(s.smallest[k], grad_m, V(0));
  }
  barycentric_backward(f.x, f.y, f.area, f.area_clamped, s.w, grad_w, px, py, grad_x, grad_y);
}

// Silhouette backward of one face at the pixels of sample s: scaled = dL/dA times the pixel's
// alpha_gradient_scale, so dL/dx_j = scaled * D_j [* (1 - D_j) for "sum"]; adds to grad_x, grad_y.
template <typename V, typename T>
HOST_DEVICE FORCE_INLINE void silhouette_backward_pair(const FaceSetup<T>& f, const SoftKernelParams<T>& p,
                                                       const SoftSample<V>& s, V scaled, V px, V py, V* grad_x,
                                                       V* grad_y) {
  const V grad_logit = pick(s.keep, alpha_logit_gradient(scaled, s.D, s.complement, p.aggr_alpha), V(0));
  coverage_backward(f, p, s, grad_logit, static_cast<const V*>(nullptr), px, py, grad_x, grad_y);
}

// Accumulates the gradient of one (face, pixel) pair. grad_texture points at this face's
// (T, 3) gradient block (written only by this face, so no atomics are needed).
template <typename T>
HOST_DEVICE FORCE_INLINE void backward_pair(const FaceSetup<T>& f, const T* texture, const SoftKernelParams<T>& p,
                                            const Coverage<T>& c, const PixelGradient<T>& g, int face_index,
                                            T px, T py, FaceGradient<T>& out, T* grad_texture) {
  const T D = c.D, complement = c.complement;
  T grad_logit = alpha_logit_gradient(alpha_gradient_scale(g.grad[3], g.aux[0], p), D, complement, p.aggr_alpha);
  T grad_w[3] = {T(0), T(0), T(0)};
  if (p.aggr_rgb != kRgbNone) {
    Depth<T> d;
    const bool hard_winner = p.aggr_rgb == kRgbHard && int(g.aux[2]) == face_index;
    if ((p.aggr_rgb == kRgbSoftmax || hard_winner) && evaluate_depth(f, p, c, d)) {
      T color[3];
      sample_texture(texture, p, d.w_clip, color);
      T grad_color[3];
      T grad_w_clip[3] = {T(0), T(0), T(0)};
      if (p.aggr_rgb == kRgbSoftmax) {
        const T zn = (p.far - d.z) * p.inv_depth_range;
        const T weight = D * exp_nonpositive((zn - g.aux[1]) * p.inv_gamma) / g.aux[2];  // e_j / W
        T dot = T(0);
        for (int ch = 0; ch < 3; ++ch) {
          grad_color[ch] = g.grad[ch] * weight;
          dot += g.grad[ch] * (color[ch] - g.rgba[ch]);
        }
        grad_logit += dot * weight * complement;  // through D_j: dD/dx = D (1 - D)
        const T grad_zn = dot * weight * p.inv_gamma;
        const T grad_z = -grad_zn * p.inv_depth_range;
        // z = 1 / S, S = sum_k w_clip_k / z_k
        const T grad_s = -grad_z * d.z * d.z;
        for (int k = 0; k < 3; ++k) {
          grad_w_clip[k] += grad_s * f.inv_z[k];
          out.z[k] -= grad_s * d.w_clip[k] * f.inv_z[k] * f.inv_z[k];
        }
      } else {
        for (int ch = 0; ch < 3; ++ch) grad_color[ch] = g.grad[ch];
      }
      if (p.texture_type == kSurfaceTexture) {
        T* texel = grad_texture + 3 * surface_texel(d.w_clip, p.texture_res);
        for (int ch = 0; ch < 3; ++ch) texel[ch] += grad_color[ch];
      } else {
        for (int k = 0; k < 3; ++k)
          for (int ch = 0; ch < 3; ++ch) {
            grad_texture[3 * k + ch] += d.w_clip[k] * grad_color[ch];
            grad_w_clip[k] += texture[3 * k + ch] * grad_color[ch];
          }
      }
      T grad_w_unclipped[3];
      barycentric_clip_backward(c.w, d.w_clip, d.clip_sum, d.clip_sum_clamped, grad_w_clip, grad_w_unclipped);
      for (int k = 0; k < 3; ++k) grad_w[k] += grad_w_unclipped[k];
    }
  }
  coverage_backward(f, p, c, grad_logit, p.aggr_rgb != kRgbNone ? grad_w : nullptr, px, py, out.x, out.y);
}

// Rows [r0, r1] and columns [c0, c1] of the pixels inside a face's grown bounding box.
template <typename T>
HOST_DEVICE FORCE_INLINE void face_pixel_box(const FaceSetup<T>& f, int size, int& r0, int& r1, int& c0, int& c1) {
  exact_span(f.ymin, f.ymax, size, true, r0, r1);
  exact_span(f.xmin, f.xmax, size, false, c0, c1);
}

// The faces of one image that may reach one pixel (face_list: `count` ascending face indices, the
// pixel's tile bin), in face order: the CUDA forward. The CPU forward visits the
// same (face, pixel) pairs face-major, which gives the same per-pixel order.
template <typename T>
HOST_DEVICE FORCE_INLINE void rasterize_pixel(const FaceSetup<T>* setups, const int32_t* face_list, int64_t count,
                                              const T* textures, const SoftKernelParams<T>& p, int row, int col,
                                              T* image, T* aux) {
  const int size = p.size;
  const T px = pixel_x<T>(col, size), py = pixel_y<T>(row, size);
  PixelAccumulator<T> acc;
  init_pixel(acc, p);
  for (int64_t k = 0; k < count; ++k) {
    const int f = face_list[k];
    const FaceSetup<T>& face = setups[f];
    if (!face.visible) continue;
    Coverage<T> c;
    if (!evaluate_coverage(face, p, px, py, c)) continue;
    accumulate_face(acc, face, textures ? textures + 3 * p.texture_size * f : nullptr, p, c, f);
  }
  write_pixel(acc, p, row, col, image, aux);
}

// The screen tiles (of `tile` pixels a side) a face can reach: its grown box's pixels
// (face_pixel_box, the pixels evaluate_coverage accepts); none for a face not drawn.
template <typename T>
HOST_DEVICE FORCE_INLINE TileRect soft_face_tiles(const FaceSetup<T>& f, int size, int tile) {
  if (!f.visible) return empty_tile_rect();
  int r0, r1, c0, c1;
  face_pixel_box(f, size, r0, r1, c0, c1);
  return tiles_of_pixel_box(r0, r1, c0, c1, tile);
}

// Backward of one face over every pixel it influences. image, aux and grad_image point
// at this face's image ((4, S, S), (3, S, S), (4, S, S)); grad_face (9 values) and
// grad_texture ((T, 3)) belong to this face alone.
template <typename T>
HOST_DEVICE FORCE_INLINE void backward_face(const T* face, const T* texture, const SoftKernelParams<T>& p,
                                            int face_index, const T* image, const T* aux, const T* grad_image,
                                            T* grad_face, T* grad_texture) {
  const FaceSetup<T> f = setup_face(face, p);
  FaceGradient<T> out;
  for (int k = 0; k < 3; ++k) out.x[k] = out.y[k] = out.z[k] = T(0);
  if (f.visible) {
    const int size = p.size;
    const int plane = size * size;
    int r0, r1, c0, c1;
    face_pixel_box(f, size, r0, r1, c0, c1);
    for (int r = r0; r <= r1; ++r) {
      const T py = pixel_y<T>(r, size);
      for (int col = c0; col <= c1; ++col) {
        const T px = pixel_x<T>(col, size);
        const int pix = r * size + col;
        PixelGradient<T> g;
        bool any = false;
        for (int ch = 0; ch < 4; ++ch) {
          g.grad[ch] = grad_image[ch * plane + pix];
          any = any || g.grad[ch] != T(0);
        }
        if (!any) continue;
        Coverage<T> c;
        if (!coverage_in_box(f, p, px, py, c)) continue;
        for (int ch = 0; ch < 4; ++ch) g.rgba[ch] = image[ch * plane + pix];
        for (int ch = 0; ch < 3; ++ch) g.aux[ch] = aux[ch * plane + pix];
        backward_pair(f, texture, p, c, g, face_index, px, py, out, grad_texture);
      }
    }
  }
  for (int k = 0; k < 3; ++k) {
    grad_face[3 * k + 0] = out.x[k];
    grad_face[3 * k + 1] = out.y[k];
    grad_face[3 * k + 2] = out.z[k];
  }
}

}  // namespace renderers
