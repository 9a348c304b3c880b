// Hard rasterization: per-face and per-pixel math written once, called from the
// multi-threaded CPU loops (rasterize_cpu.cpp, zbuffer_cpu.h) and the CUDA kernels
// (rasterize_cuda.cu). Shared by the Neural 3D Mesh Renderer (whose gradient rule is kato/) and
// OpenDR (opendr/).
//
// Forward (REFERENCE section 6): a face covers a pixel centre p when it is drawable
// (finite, area included; non-degenerate: |A| > kMinArea; every z_k >= near, the one near-plane
// policy of every renderer: a face with a corner nearer than near is not drawn; front-facing or
// double-sided) and every
// edge function E_k(p) has the sign of the signed double area A (zero counts as inside).
// Barycentrics w_k = E_k / A are clipped to [0, 1] and renormalised (barycentric_clip), then
// perspective-corrected: q_k = w_k / z_k, Q = sum q_k, w'_k = q_k / Q, depth z = 1 / Q. The
// face is kept only if near <= z <= far; the nearest face wins (the lowest index on ties).
// Textures are sampled at w' (hard_sample), and hard_sample_backward gives the gradients of a
// sampled colour with respect to w' and to the texture.
#pragma once

#include "../common/geometry.h"
#include "../common/macros.h"
#include "../common/math.h"
#include "../common/tile_bins.h"
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
  bool in_front = true, finite = true;
  for (int k = 0; k < 3; ++k) {
    f.x[k] = face[3 * k + 0];
    f.y[k] = face[3 * k + 1];
    f.z[k] = face[3 * k + 2];
    in_front = in_front && f.z[k] >= p.near;  // near > 0 (checked), so 1 / z_k is finite
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
  finite = finite && f.area - f.area == T(0);  // an area that overflows the precision is not drawn
  // Front faces have a negative signed area in this camera (renderers/camera.py).
  f.drawable = finite && large && in_front && (p.double_sided || f.area < T(0));
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

// The nearest face at pixel (row, col) among the `count` ascending face indices of face_list (the
// pixel's tile bin), so in the order of a scan over all faces (the CUDA forwards; the CPU forward
// visits the same (face, pixel) pairs face-major with the same comparisons).
template <typename T>
HOST_DEVICE FORCE_INLINE int nearest_face(const HardFace<T>* faces, const HardKernelParams<T>& p, int row, int col,
                                          const int32_t* face_list, int64_t count) {
  const T px = pixel_x<T>(col, p.size), py = pixel_y<T>(row, p.size);
  int best = -1;
  T best_z = T(0);
  for (int64_t k = 0; k < count; ++k) {
    const int fi = face_list[k];
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

// The screen tiles (of `tile` pixels a side) a face can reach: the pixels of its box
// (exact_span, the pixels nearest_face's box test accepts); none for a face not drawn.
template <typename T>
HOST_DEVICE FORCE_INLINE TileRect hard_face_tiles(const HardFace<T>& f, int size, int tile) {
  if (!f.drawable) return empty_tile_rect();
  int r0, r1, c0, c1;
  exact_span(f.ymin, f.ymax, size, true, r0, r1);
  exact_span(f.xmin, f.xmax, size, false, c0, c1);
  return tiles_of_pixel_box(r0, r1, c0, c1, tile);
}

// Per-thread kernels (common/launch.h) of the CUDA forward.

// Thread i: the set-up of face i of the batch (B * F threads).
template <typename T>
struct HardSetupKernel {
  const T* faces;  // (B * F, 9)
  HardFace<T>* setups;
  HardKernelParams<T> p;
  HOST_DEVICE void operator()(int64_t i) const { setups[i] = setup_hard_face(faces + 9 * i, p); }
};

constexpr int kHardTile = 8;  // pixels a side of the CUDA forward's screen tiles

// Thread i: the tile rectangle of face i of the batch (after HardSetupKernel).
template <typename T>
struct HardFaceRectKernel {
  const HardFace<T>* setups;  // (B * F)
  TileRect* rects;            // (B * F)
  int size;
  HOST_DEVICE void operator()(int64_t i) const { rects[i] = hard_face_tiles(setups[i], size, kHardTile); }
};

// Thread i: pixel i of the batch (B * S * S threads): the nearest face among its tile's faces in
// face order (common/tile_bins.h), then the pixel's maps and colour.
template <typename T>
struct HardForwardPixelKernel {
  const HardFace<T>* setups;    // (B * F)
  const int32_t* tile_faces;    // common/tile_bins.h, tiles of kHardTile pixels
  const int64_t* tile_offsets;
  int tiles;                    // per side
  const T* textures;            // (B, F, T, 3) or null
  T* image;                     // (B, 4, S, S)
  int32_t* face_index;          // (B, S, S)
  T* weights;                   // (B, S, S, 3)
  T* depth;                     // (B, S, S)
  HardKernelParams<T> p;
  HOST_DEVICE void operator()(int64_t i) const {
    const int64_t plane = int64_t(p.size) * p.size;
    const int64_t b = i / plane;
    const int pix = int(i % plane);
    const int row = pix / p.size, col = pix % p.size;
    const HardFace<T>* faces = setups + b * p.num_faces;
    int64_t begin, end;
    pixel_bin(tile_offsets, tiles, kHardTile, b, row, col, begin, end);
    const int face = nearest_face(faces, p, row, col, tile_faces + begin, end - begin);
    write_hard_pixel(faces, textures ? textures + b * p.num_faces * p.texture_size * 3 : nullptr, p, row, col, face,
                     image + b * 4 * plane, face_index + b * plane, weights + b * 3 * plane, depth + b * plane);
  }
};

// Thread i: pixel i of the batch (B * S * S threads) marks the face it shows in shown (B, F)
// (zeroed by the caller). The one exception to "each thread writes only what it owns": every
// writer of a mark stores the same 1, so the result does not depend on the order.
struct MarkShownKernel {
  const int32_t* face_index;  // (B, S, S)
  uint8_t* shown;             // (B, F)
  int64_t plane;              // S * S
  int num_faces;
  HOST_DEVICE void operator()(int64_t i) const {
    const int32_t face = face_index[i];
    if (face >= 0 && face < num_faces) shown[(i / plane) * num_faces + face] = 1;  // others: never addressed
  }
};

}  // namespace renderers
