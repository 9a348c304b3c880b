// Kato et al.'s approximate rasterization gradient (the Neural 3D Mesh Renderer's backward):
// per-face and per-edge math written once, called from the multi-threaded CPU loop
// (kato_cpu.cpp) and the CUDA kernels (kato_cuda.cu). The forward maps it reads come from the
// shared hard rasterizer (rasterize/).
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

#include "../rasterize/rasterize_kernel.h"
#include "kato.h"

namespace renderers {

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


// Thread i: face i of the batch (B * F threads), the CUDA backward (the CPU passes its
// optional scan buffers instead; same values, same sums). shown: MarkShownKernel's marks.
template <typename T>
struct KatoBackwardFaceKernel {
  const T* faces;         // (B * F, 9)
  const T* textures;      // (B * F, T * 3) or null
  const T* image;         // (B, 4, S, S)
  const int32_t* face_index;
  const uint8_t* shown;   // (B, F)
  const T* grad_image;    // (B, 4, S, S)
  T* grad_faces;          // (B * F, 9)
  T* grad_textures;       // (B * F, T * 3) or null
  HardKernelParams<T> p;
  HOST_DEVICE void operator()(int64_t i) const {
    const int64_t plane = int64_t(p.size) * p.size;
    const int64_t b = i / p.num_faces;
    const int64_t block = int64_t(p.texture_size) * 3;
    const HardMaps<T> maps{image + b * 4 * plane, grad_image + b * 4 * plane, face_index + b * plane, plane, p.size,
                           p.texture_type == kNmrNoTexture ? 3 : 0, {nullptr, nullptr}, {nullptr, nullptr},
                           {nullptr, nullptr}, {nullptr, nullptr}, shown + b * p.num_faces};
    hard_backward_face(faces + 9 * i, textures ? textures + i * block : nullptr, p, maps, int(i % p.num_faces),
                       grad_faces + 9 * i, grad_textures ? grad_textures + i * block : nullptr);
  }
};

}  // namespace renderers
