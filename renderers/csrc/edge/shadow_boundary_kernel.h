// The secondary (shadow) boundary term of edge sampling: per-thread kernels for every launcher.
// The estimator is described in shadow_kernel.h; its launch sequence is in edge_launch.h.
#pragma once

#include <cstdint>

#include "edge_kernel.h"
#include "shadow_kernel.h"

namespace renderers {

template <typename T>
struct ShadowBoundaryArgs {
  const HardFace<T>* setups;        // (B * F) screen set-ups
  const int32_t* tile_faces;        // screen tile bins
  const int64_t* tile_offsets;
  const T* textures;                // (B, F, T, 3) ambient parts
  ShadowScene<T> shadow;
  const int32_t* edges;             // (E, 6) or (B, E, 6)
  const int32_t* corners;           // (F, 3, 2) or (B, F, 3, 2)
  const T* grad_image;              // (B, 4, S, S)
  T* lengths;                       // (B, E) light-frame lengths of light-silhouette edges, else 0
  const T* ends;                    // (B, E) their inclusive prefix sums (edge order)
  int32_t* sample_edge;             // (B, N): the sample's edge, E where it has none (nondecreasing)
  int32_t* receiver;                // (B, N): the receiver face of a kept sample, else -1
  T* records;                       // (B, N, kShadowRecord)
  T* edge_grad;                     // (B, E, 6): d/d v0, v1 of each edge
  const int64_t* order;             // (B, N): samples stably sorted by receiver
  const int64_t* receiver_offsets;  // (B, F + 1): each face's range of `order`
  T* grad_face_vertices;            // (B, F, 3, 3) screen
  T* grad_world;                    // (B, F, 3, 3)
  T* grad_light;                    // (B, 3)
  int64_t samples;                  // N per image
  EdgeKernelParams<T> p;
};

// Thread i = edge row i of the batch (B * E): its light-frame length if it is a light silhouette
// (a border edge, or its two faces' normals lie on opposite sides of the light direction), else 0.
template <typename T>
struct ShadowEdgeLengthKernel {
  ShadowBoundaryArgs<T> a;
  HOST_DEVICE void operator()(int64_t i) const {
    const EdgeKernelParams<T>& p = a.p;
    const int num_faces = p.hard.num_faces;
    const int64_t b = i / p.num_edges;
    const int32_t* row = a.edges + b * p.edge_stride + (i % p.num_edges) * 6;
    a.lengths[i] = T(0);
    const int fa = row[0], fb = row[3];
    if (fa < 0) return;
    const T* w = a.shadow.frames + b * kLightFrameStride + 6;
    const T* A = a.shadow.world + (b * num_faces + fa) * 9;
    if (fb >= 0 && faces_light(A, w) == faces_light(a.shadow.world + (b * num_faces + fb) * 9, w)) return;
    T e[3], m[3];
    for (int c = 0; c < 3; ++c) e[c] = A[3 * row[2] + c] - A[3 * row[1] + c];
    cross3(e, w, m);
    const T length = sqrt_(dot3(m, m));
    a.lengths[i] = length > T(0) && length - length == T(0) ? length : T(0);
  }
};

// Thread i = secondary sample j of image b (B * N): its edge, receiver and record (see
// shadow_kernel.h). A sample that finds no visible receiver, or whose two sides shade alike,
// keeps receiver -1 and a zero record.
template <typename T>
struct ShadowSampleKernel {
  ShadowBoundaryArgs<T> a;
  HOST_DEVICE void operator()(int64_t i) const {
    const EdgeKernelParams<T>& p = a.p;
    const int num_faces = p.hard.num_faces, num_edges = p.num_edges, size = p.hard.size;
    const int64_t b = i / a.samples, j = i % a.samples;
    T* record = a.records + i * kShadowRecord;
    for (int k = 0; k < kShadowRecord; ++k) record[k] = T(0);
    a.receiver[i] = -1;
    a.sample_edge[i] = num_edges;
    const T* ends = a.ends + b * num_edges;
    const T total = ends[num_edges - 1];
    if (!(total > T(0))) return;
    const T u = random_uniform<T>(p.seed, kStreamShadow, (uint64_t(b) << 32) + uint64_t(j));
    const T sigma = (T(j) + u) * total / T(a.samples);
    int lo = 0, hi = num_edges;  // the first edge with ends[e] > sigma
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (ends[mid] > sigma) hi = mid;
      else lo = mid + 1;
    }
    if (lo >= num_edges) return;  // (rounding at the very end)
    const int e = lo;
    a.sample_edge[i] = e;
    const T length = a.lengths[b * num_edges + e];
    const T t = clamp_((sigma - (ends[e] - length)) / length, T(0), T(1));
    const int32_t* row = a.edges + b * p.edge_stride + int64_t(e) * 6;
    const int fa = row[0], fb = row[3];
    const T* fr = a.shadow.frames + b * kLightFrameStride;
    const T* w = fr + 6;
    const T* A = a.shadow.world + (b * num_faces + fa) * 9;
    T v0[3], edge[3], q[3];
    for (int c = 0; c < 3; ++c) {
      v0[c] = A[3 * row[1] + c];
      edge[c] = A[3 * row[2] + c] - v0[c];
      q[c] = v0[c] + t * edge[c];
    }
    // the receiver: the first face below q, and its point's screen position
    T lambda[3];
    const int g = shadow_receiver(a.shadow, b, num_faces, dot3(q, fr), dot3(q, fr + 3), dot3(q, w), fa, fb, lambda);
    if (g < 0) return;
    const HardFace<T>* faces = a.setups + b * num_faces;
    const HardFace<T>& G = faces[g];
    if (!G.drawable) return;
    const T Z = lambda[0] * G.z[0] + lambda[1] * G.z[1] + lambda[2] * G.z[2];
    const T X = (lambda[0] * G.z[0] * G.x[0] + lambda[1] * G.z[1] * G.x[1] + lambda[2] * G.z[2] * G.x[2]) / Z;
    const T Y = (lambda[0] * G.z[0] * G.y[0] + lambda[1] * G.z[1] * G.y[1] + lambda[2] * G.z[2] * G.y[2]) / Z;
    if (!(Z > T(0)) || !(X >= T(-1) && X <= T(1) && Y >= T(-1) && Y <= T(1))) return;
    T wb[3];
    if (!hard_covers(G, X, Y, wb)) return;
    Perspective<T> ps;
    perspective_correct(G, wb, ps);
    // beta at the receiver's corners, and grad_x beta = (grad N - beta grad D) / D with
    // N = sum_k w_k beta_k / z_k, D = sum_k w_k / z_k (w the screen barycentrics, affine in x)
    const T* P = a.shadow.world + (b * num_faces + g) * 9;
    T m[3], beta[3];
    cross3(edge, w, m);
    T n_val = T(0), d_val = T(0), dn[2] = {T(0), T(0)}, dd[2] = {T(0), T(0)};
    for (int k = 0; k < 3; ++k) {
      const T r[3] = {P[3 * k] - v0[0], P[3 * k + 1] - v0[1], P[3 * k + 2] - v0[2]};
      beta[k] = dot3(m, r);
      const int ki = (k + 1) % 3, kj = (k + 2) % 3;
      const T gx = (G.y[ki] - G.y[kj]) / G.area, gy = (G.x[kj] - G.x[ki]) / G.area;
      n_val += wb[k] * beta[k] * G.inv_z[k];
      d_val += wb[k] * G.inv_z[k];
      dn[0] += gx * beta[k] * G.inv_z[k];
      dn[1] += gy * beta[k] * G.inv_z[k];
      dd[0] += gx * G.inv_z[k];
      dd[1] += gy * G.inv_z[k];
    }
    const T beta_x = n_val / d_val;
    const T gbx = (dn[0] - beta_x * dd[0]) / d_val, gby = (dn[1] - beta_x * dd[1]) / d_val;
    const T glen = edge_length(gbx, gby);
    if (!(glen > T(0)) || !(glen - glen == T(0))) return;
    const T nx = gbx / glen, ny = gby / glen;
    // |dx/dt|: the receiver's light-frame barycentrics move with q, x = sum lambda z x / sum lambda z
    const LightFace<T>& LG = a.shadow.faces[b * num_faces + g];
    const T dqx = dot3(edge, fr), dqy = dot3(edge, fr + 3);
    T dz = T(0), dxz = T(0), dyz = T(0);
    for (int k = 0; k < 3; ++k) {
      const int ki = (k + 1) % 3, kj = (k + 2) % 3;
      const T dl = ((LG.y[ki] - LG.y[kj]) * dqx + (LG.x[kj] - LG.x[ki]) * dqy) / LG.area;
      dz += dl * G.z[k];
      dxz += dl * G.z[k] * G.x[k];
      dyz += dl * G.z[k] * G.y[k];
    }
    const T speed = edge_length((dxz - X * dz) / Z, (dyz - Y * dz) / Z);
    // the shading either side of the curve (with shadow rays), beta > 0 first
    const T xp = X + p.delta * nx, yp = Y + p.delta * ny, xm = X - p.delta * nx, ym = Y - p.delta * ny;
    int face_p, face_m;
    edge_nearest_pair(faces, a.tile_faces, a.tile_offsets, p, b, xp, yp, xm, ym, face_p, face_m);
    // Both sides must show the receiver. This is the visibility test (a hidden receiver shows on
    // neither side), and where only one side shows it the curve meets one of the receiver's screen
    // edges, a discontinuity that the primary term samples (counting it here as well would count it
    // twice where a shadow boundary runs along such an edge); the band dropped is delta wide.
    if (face_p != g || face_m != g) return;
    const T* textures = a.textures + b * num_faces * p.hard.texture_size * 3;
    T lp[4], lm[4];
    edge_shade(faces, textures, p.hard, a.shadow, b, face_p, xp, yp, lp);
    edge_shade(faces, textures, p.hard, a.shadow, b, face_m, xm, ym, lm);
    const int64_t plane = int64_t(size) * size;
    const int64_t pixel = int64_t(edge_pixel_of(Y, true, size)) * size + edge_pixel_of(X, false, size);
    T diff = T(0);
    for (int ch = 0; ch < 4; ++ch) diff += a.grad_image[(b * 4 + ch) * plane + pixel] * (lp[ch] - lm[ch]);
    const T weight = diff * (total / T(a.samples)) * speed / length / glen * T(size) * T(size) / T(4);
    if (weight == T(0)) return;
    a.receiver[i] = g;
    // d beta / d theta, beta = (e x w) . (y - v0), y = sum_k wp_k P_k
    T y[3], d[3], wxd[3], dxe[3];
    for (int c = 0; c < 3; ++c) y[c] = ps.wp[0] * P[c] + ps.wp[1] * P[3 + c] + ps.wp[2] * P[6 + c];
    for (int c = 0; c < 3; ++c) d[c] = y[c] - v0[c];
    cross3(w, d, wxd);
    cross3(d, edge, dxe);
    for (int c = 0; c < 3; ++c) {
      record[c] = -weight * (wxd[c] + m[c]);  // v0
      record[3 + c] = weight * wxd[c];        // v1
      record[6 + c] = weight * dxe[c];        // w
      for (int k = 0; k < 3; ++k) record[9 + 3 * k + c] = weight * ps.wp[k] * m[c];  // receiver corners
    }
    T grad_wp[3], gx[3] = {T(0), T(0), T(0)}, gy[3] = {T(0), T(0), T(0)}, gz[3] = {T(0), T(0), T(0)};
    for (int k = 0; k < 3; ++k) grad_wp[k] = weight * beta[k];
    perspective_barycentric_backward(G, wb, ps, grad_wp, X, Y, gx, gy, gz);
    for (int k = 0; k < 3; ++k) {
      record[18 + 3 * k] = gx[k];
      record[19 + 3 * k] = gy[k];
      record[20 + 3 * k] = gz[k];
    }
  }
};

// Thread i = edge row i of the batch (B * E): the sum of its samples' occluder records, in order.
template <typename T>
struct ShadowEdgeGatherKernel {
  ShadowBoundaryArgs<T> a;
  HOST_DEVICE void operator()(int64_t i) const {
    const int num_edges = a.p.num_edges;
    const int64_t b = i / num_edges;
    const int e = int(i % num_edges);
    const int32_t* edge_of = a.sample_edge + b * a.samples;
    int64_t lo = 0, hi = a.samples;  // the first sample of edge >= e
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (edge_of[mid] >= e) hi = mid;
      else lo = mid + 1;
    }
    T sum[6] = {T(0), T(0), T(0), T(0), T(0), T(0)};
    for (int64_t j = lo; j < a.samples && edge_of[j] == e; ++j)
      for (int c = 0; c < 6; ++c) sum[c] += a.records[(b * a.samples + j) * kShadowRecord + c];
    for (int c = 0; c < 6; ++c) a.edge_grad[i * 6 + c] = sum[c];
  }
};

// Thread i = corner i of the batch (B * F * 3): adds the occluder gradients of the edges it ends.
template <typename T>
struct ShadowCornerGatherKernel {
  ShadowBoundaryArgs<T> a;
  HOST_DEVICE void operator()(int64_t i) const {
    const int64_t per_image = int64_t(a.p.hard.num_faces) * 3;
    const int64_t b = i / per_image, corner = i % per_image;
    const int32_t* ends = a.corners + b * a.p.corner_stride + corner * 2;
    T* out = a.grad_world + i * 3;
    for (int m = 0; m < 2; ++m) {
      const int32_t end = ends[m];
      if (end < 0) continue;
      const T* g = a.edge_grad + (b * a.p.num_edges + end / 2) * 6 + 3 * (end % 2);
      for (int c = 0; c < 3; ++c) out[c] += g[c];
    }
  }
};

// Thread i = face i of the batch (B * F): adds the receiver records of its samples, in order.
template <typename T>
struct ShadowReceiverGatherKernel {
  ShadowBoundaryArgs<T> a;
  HOST_DEVICE void operator()(int64_t i) const {
    const int num_faces = a.p.hard.num_faces;
    const int64_t b = i / num_faces;
    const int64_t* offsets = a.receiver_offsets + b * (num_faces + 1) + i % num_faces;
    T world[9], screen[9];
    for (int k = 0; k < 9; ++k) world[k] = screen[k] = T(0);
    for (int64_t k = offsets[0]; k < offsets[1]; ++k) {
      const T* record = a.records + (b * a.samples + a.order[b * a.samples + k]) * kShadowRecord;
      for (int c = 0; c < 9; ++c) {
        world[c] += record[9 + c];
        screen[c] += record[18 + c];
      }
    }
    for (int c = 0; c < 9; ++c) {
      a.grad_world[i * 9 + c] += world[c];
      a.grad_face_vertices[i * 9 + c] += screen[c];
    }
  }
};

// Thread b = image b: the light direction's gradient, summed over its samples in order.
template <typename T>
struct ShadowLightGatherKernel {
  ShadowBoundaryArgs<T> a;
  HOST_DEVICE void operator()(int64_t b) const {
    T sum[3] = {T(0), T(0), T(0)};
    for (int64_t j = 0; j < a.samples; ++j)
      for (int c = 0; c < 3; ++c) sum[c] += a.records[(b * a.samples + j) * kShadowRecord + 6 + c];
    for (int c = 0; c < 3; ++c) a.grad_light[b * 3 + c] = sum[c];
  }
};

}  // namespace renderers
