// OpenDR: per-edge, per-pixel and per-face math written once, as host/device functions and
// per-thread kernels (common/launch.h), called from the multi-threaded CPU loops
// (opendr_cpu.cpp), the CUDA launches (opendr_cuda.cu) and their CPU emulation.
//
// Forward = the shared hard z-buffer (rasterize/) + the boundary overdraw:
// * Boundary edges (make_edge_line): an edge with at least one drawable face that is a border
//   edge (one face), or joins a drawable face to one that is not drawn, or joins two drawable
//   faces facing opposite ways from the camera (screen-space signed areas of opposite signs,
//   which for faces in front of the camera is the sign of dot(view ray, normal) that OpenDR
//   tests).
// * Line rule: each boundary edge is drawn as a 1-pixel line along its major axis (x when
//   |dx| >= |dy|): on every pixel line of that axis (column, or row) whose centre lies within
//   the edge's extent, the one pixel whose centre is nearest the edge's crossing (ties: the larger
//   index), at edge parameter t (screen space) and inverse depth q = (1 - t)/z_a + t/z_b
//   (perspective-correct depth 1/q, kept within [near, far]).
// * Depth test (OpenGL's polygon offset as OpenDR sets it, glPolygonOffset(10, 1)): the line
//   point is hidden by the face g the z-buffer shows at that pixel only if it is nearer than the
//   edge point by more than kOffsetFactor * slope_g + kOffsetUnits * q_g in inverse depth, where
//   q_g = 1 / depth and slope_g = max(|dq_g/dx|, |dq_g/dy|) per pixel (q is affine in screen
//   space on a face). The edge's own faces therefore never hide it.
// * Where several line points land on a pixel, the nearest (largest q) wins, then the first
//   edge. That pixel is in the mask M; it belongs to the edge's owner face (below), with the
//   perspective-correct barycentrics of the edge point ((1 - t)/z_a / q and t/z_b / q at the
//   endpoints' corners, 0 at the third), depth 1/q, alpha 1 and the owner's colour there.
// * Owner: the only drawable face; for two drawable faces on the same side of the edge on screen
//   (a fold, the usual silhouette), the nearer one there (larger dq/dn into that side; the
//   first on ties); for two on opposite sides, the one on the pixel centre's side (face_a on
//   the line).
//
// Backward (OpenDR's dImage_wrt_2dVerts_bnd, per channel c, in pixel units along an image
// line, x along a row or y down a column):
// * off M: the mean of the one-sided differences I[i+1] - I[i] and I[i] - I[i-1] whose
//   neighbour is in the image and not in M (the central difference when both are); when there
//   is none, the rule on M;
// * on M: the undivided difference I[i+1] - I[i-1] (2 (I[1] - I[0]) and 2 (I[n-1] - I[n-2]) at
//   the image border: numpy.gradient times 2);
// * pixel p belonging to face f with weights b_k(p): dI_p/du_k = -G_x(p) b_k(p) and
//   dI_p/dv_k = -G_row(p) b_k(p) (brightness constancy), u the column and v the row, so
//   dL/dx_k = -(S/2) sum_p b_k(p) sum_c dL/dI_p,c G_x,c(p) and
//   dL/dy_k = +(S/2) sum_p b_k(p) sum_c dL/dI_p,c G_row,c(p) (rows grow downwards, y upwards);
//   empty pixels contribute nothing; z gets no gradient.
// * Textures: exact, through the weights (hard_sample_backward), at the same pixels.
#pragma once

#include <cstdint>

#include "../common/dispatch.h"
#include "../common/geometry.h"
#include "../common/macros.h"
#include "../common/math.h"
#include "../common/tile_bins_launch.h"
#include "../rasterize/rasterize_kernel.h"

namespace renderers {

// OpenDR's glPolygonOffset(10.0, 1.0): faces are pushed back by 10 times their depth slope per
// pixel, plus one resolvable unit, here a relative 1e-6 of the inverse depth.
constexpr double kOffsetFactor = 10.0;
constexpr double kOffsetUnits = 1e-6;

template <typename T>
struct OpenDRKernelParams {
  HardKernelParams<T> hard;
  int num_edges;              // E (rows per image in the edge table)
  int64_t edge_batch_stride;  // 0 when the edge table is shared by the batch, else E * 6
  bool overdraw;
};

template <typename T>
OpenDRKernelParams<T> make_opendr_params(const RasterizeParams& raster, bool overdraw, int num_faces,
                                         int texture_size, int num_edges, int64_t edge_batch_stride) {
  return OpenDRKernelParams<T>{make_hard_params<T>(raster, num_faces, texture_size), num_edges, edge_batch_stride,
                               overdraw};
}

// A boundary edge of one image, ready to be drawn.
template <typename T>
struct EdgeLine {
  T ax, ay, bx, by;    // screen endpoints (NDC)
  T inv_za, inv_zb;    // 1 / z at the endpoints
  T side_a;            // cross(b - a, c_a - a): the side of face_a's third corner (owner == -1)
  int faces[2];        // face_a, face_b (-1: none)
  int owner;           // the owner face, or -1 when the pixel's side decides
  int8_t slots[2][2];  // slots[k][e]: the corner of faces[k] holding endpoint e (0: a, 1: b)
  bool x_major;
  int first, last;     // the pixel lines drawn: columns (x_major) or rows, within the image
};

// Screen-space gradient of the inverse depth q = sum_k w_k / z_k over a (drawable) face.
template <typename T>
HOST_DEVICE FORCE_INLINE void inverse_depth_gradient(const HardFace<T>& f, T& gx, T& gy) {
  gx = T(0);
  gy = T(0);
  for (int k = 0; k < 3; ++k) {
    const int i = (k + 1) % 3, j = (k + 2) % 3;
    gx += f.inv_z[k] * (f.y[i] - f.y[j]);  // dE_k/dx
    gy += f.inv_z[k] * (f.x[j] - f.x[i]);  // dE_k/dy
  }
  gx /= f.area;
  gy /= f.area;
}

// Classifies edge `record` (6 ints, see opendr.h) of one image's faces; fills `line` and returns
// true for a boundary edge that draws at least one pixel line.
template <typename T>
HOST_DEVICE FORCE_INLINE bool make_edge_line(const HardFace<T>* faces, const int32_t* record, int size,
                                             EdgeLine<T>& line) {
  const int fa = record[0], fb = record[3];
  if (fa < 0) return false;  // padding row
  const bool da = faces[fa].drawable, db = fb >= 0 && faces[fb].drawable;
  if (!da && !db) return false;
  if (da && db && !(faces[fa].area * faces[fb].area < T(0))) return false;  // both drawn, facing alike
  // (da != db, or a border edge, or opposite facing: a boundary edge)
  line.faces[0] = fa;
  line.faces[1] = fb;
  for (int e = 0; e < 2; ++e) {
    line.slots[0][e] = int8_t(record[1 + e]);
    line.slots[1][e] = int8_t(fb >= 0 ? record[4 + e] : -1);
  }
  // The endpoints, from a drawn face (its corners are finite and in front of the camera).
  const int k = da ? 0 : 1;
  const HardFace<T>& src = faces[line.faces[k]];
  const int s0 = line.slots[k][0], s1 = line.slots[k][1];
  line.ax = src.x[s0];
  line.ay = src.y[s0];
  line.bx = src.x[s1];
  line.by = src.y[s1];
  line.inv_za = src.inv_z[s0];
  line.inv_zb = src.inv_z[s1];
  const T ex = line.bx - line.ax, ey = line.by - line.ay;
  if (ex == T(0) && ey == T(0)) return false;  // zero length: draws nothing
  line.side_a = T(0);
  if (!(da && db)) {
    line.owner = line.faces[k];
  } else {
    const HardFace<T>& A = faces[fa];
    const HardFace<T>& B = faces[fb];
    const int ca = 3 - line.slots[0][0] - line.slots[0][1], cb = 3 - line.slots[1][0] - line.slots[1][1];
    const T side_a = ex * (A.y[ca] - line.ay) - ey * (A.x[ca] - line.ax);
    const T side_b = ex * (B.y[cb] - line.ay) - ey * (B.x[cb] - line.ax);
    if (side_a * side_b > T(0)) {
      // A fold: both faces on the same side; the nearer there owns the edge. m is a normal of
      // the edge pointing into that side; dq/dm is larger for the nearer face.
      const T mx = side_a > T(0) ? -ey : ey, my = side_a > T(0) ? ex : -ex;
      T gax, gay, gbx, gby;
      inverse_depth_gradient(A, gax, gay);
      inverse_depth_gradient(B, gbx, gby);
      const T rate_a = gax * mx + gay * my, rate_b = gbx * mx + gby * my;
      line.owner = rate_a > rate_b ? fa : rate_b > rate_a ? fb : min_(fa, fb);
    } else {
      line.owner = -1;
      line.side_a = side_a;
    }
  }
  line.x_major = !(ex * ex < ey * ey);  // |dx| >= |dy|
  if (line.x_major)
    exact_span(min_(line.ax, line.bx), max_(line.ax, line.bx), size, false, line.first, line.last);
  else
    exact_span(min_(line.ay, line.by), max_(line.ay, line.by), size, true, line.first, line.last);
  return line.first <= line.last;
}

// The line pixel of `line` on pixel line m (a column if x_major, else a row): its index across
// (row or column; -1 if outside the image), and the edge parameter t and inverse depth q there.
template <typename T>
HOST_DEVICE FORCE_INLINE int edge_line_point(const EdgeLine<T>& line, int m, int size, T& t, T& q) {
  T across;
  if (line.x_major) {
    t = clamp_((pixel_x<T>(m, size) - line.ax) / (line.bx - line.ax), T(0), T(1));
    const T y = line.ay + t * (line.by - line.ay);
    across = (T(size - 1) - y * T(size)) * T(0.5);  // the row coordinate of y
  } else {
    t = clamp_((pixel_y<T>(m, size) - line.ay) / (line.by - line.ay), T(0), T(1));
    const T x = line.ax + t * (line.bx - line.ax);
    across = (x * T(size) + T(size - 1)) * T(0.5);  // the column coordinate of x
  }
  q = (T(1) - t) * line.inv_za + t * line.inv_zb;
  if (!(across > T(-1)) || !(across < T(size))) return -1;  // also NaN
  const int index = int(floor(across + T(0.5)));            // nearest centre, ties upwards
  return index >= 0 && index < size ? index : -1;
}

// Whether the line point of inverse depth q passes the depth range and the polygon-offset test
// against the face `zface` (-1: none) that the z-buffer shows at the pixel, at depth zdepth.
template <typename T>
HOST_DEVICE FORCE_INLINE bool edge_point_visible(T q, int zface, T zdepth, const HardFace<T>* faces,
                                                 const HardKernelParams<T>& p) {
  const T z = T(1) / q;
  if (!(z >= p.near && z <= p.far)) return false;
  if (zface < 0) return true;
  T gx, gy;
  inverse_depth_gradient(faces[zface], gx, gy);
  const T slope = max_(gx < T(0) ? -gx : gx, gy < T(0) ? -gy : gy) * (T(2) / T(p.size));
  const T qz = T(1) / zdepth;
  return q >= qz - (T(kOffsetFactor) * slope + T(kOffsetUnits) * qz);
}

// Writes pixel (row, col) of one image as drawn by line point (t, q) of `line` (on M).
// image: (4, S, S) of this image; face_index, depth, mask: (S, S); weights (S, S, 3).
template <typename T>
HOST_DEVICE FORCE_INLINE void write_line_pixel(const EdgeLine<T>& line, T t, T q, const T* textures,
                                               const HardKernelParams<T>& p, int row, int col, T* image,
                                               int32_t* face_index, T* weights, T* depth, uint8_t* mask) {
  const int size = p.size;
  const int64_t plane = int64_t(size) * size;
  const int64_t pix = int64_t(row) * size + col;
  int k;
  if (line.owner >= 0) {
    k = line.owner == line.faces[0] ? 0 : 1;
  } else {
    const T side = (line.bx - line.ax) * (pixel_y<T>(row, size) - line.ay) -
                   (line.by - line.ay) * (pixel_x<T>(col, size) - line.ax);
    k = side * line.side_a < T(0) ? 1 : 0;
  }
  const int face = line.faces[k];
  T w[3] = {T(0), T(0), T(0)};
  w[line.slots[k][0]] = (T(1) - t) * line.inv_za / q;
  w[line.slots[k][1]] = t * line.inv_zb / q;
  face_index[pix] = face;
  for (int c = 0; c < 3; ++c) weights[3 * pix + c] = w[c];
  depth[pix] = T(1) / q;
  mask[pix] = 1;
  T color[3] = {T(0), T(0), T(0)};
  if (p.texture_type != kNmrNoTexture) hard_sample(textures + int64_t(face) * p.texture_size * 3, p, w, color);
  for (int c = 0; c < 3; ++c) image[c * plane + pix] = color[c];
  image[3 * plane + pix] = T(1);
}

// OpenDR's image derivative of one channel at position i of an image line of n pixels
// (values[j * stride], in_mask[j * stride]), in pixel units (see the file comment).
template <typename T>
HOST_DEVICE FORCE_INLINE T opendr_difference(const T* values, const uint8_t* in_mask, int64_t stride, int n,
                                             int i) {
  if (!in_mask[i * stride]) {
    T sum = T(0);
    int count = 0;
    if (i + 1 < n && !in_mask[(i + 1) * stride]) {
      sum += values[(i + 1) * stride] - values[i * stride];
      ++count;
    }
    if (i >= 1 && !in_mask[(i - 1) * stride]) {
      sum += values[i * stride] - values[(i - 1) * stride];
      ++count;
    }
    if (count == 2) return sum * T(0.5);
    if (count == 1) return sum;
  }
  if (n < 2) return T(0);
  if (i == 0) return T(2) * (values[stride] - values[0]);
  if (i == n - 1) return T(2) * (values[(n - 1) * stride] - values[(n - 2) * stride]);
  return values[(i + 1) * stride] - values[(i - 1) * stride];
}

// Forward scratch of the launch sequences: per-face set-ups and per-image boundary edges.
template <typename T>
struct OpenDRForwardArgs {
  const T* faces;           // (B * F, 9)
  const T* textures;        // (B, F, T, 3) or null
  const int32_t* edges;     // (E, 6) or (B, E, 6)
  HardFace<T>* setups;      // (B * F) scratch
  EdgeLine<T>* lines;       // (B * E) scratch: image b's boundary edges at [b * E, b * E + counts[b])
  int32_t* counts;          // (B) scratch
  T* image;                 // (B, 4, S, S)
  int32_t* face_index;      // (B, S, S)
  T* weights;               // (B, S, S, 3)
  T* depth;                 // (B, S, S)
  uint8_t* mask;            // (B, S, S)
  int64_t batch;
  OpenDRKernelParams<T> p;
  // The CUDA forward's tile bins (common/tile_bins.h, tiles of kHardTile pixels; set by
  // opendr_forward_launch): a pixel's z-buffer walks its tile's faces only.
  const int32_t* tile_faces = nullptr;
  const int64_t* tile_offsets = nullptr;
  int tiles = 0;
};

// Thread b: image b's boundary edges, in edge order (B threads).
template <typename T>
struct CollectEdgesKernel {
  OpenDRForwardArgs<T> a;
  HOST_DEVICE void operator()(int64_t b) const {
    const HardFace<T>* faces = a.setups + b * a.p.hard.num_faces;
    const int32_t* records = a.edges + b * a.p.edge_batch_stride;
    EdgeLine<T>* lines = a.lines + b * a.p.num_edges;
    int32_t count = 0;
    for (int e = 0; e < a.p.num_edges; ++e)
      if (make_edge_line(faces, records + 6 * e, a.p.hard.size, lines[count])) ++count;
    a.counts[b] = count;
  }
};

// Thread i: pixel i of the batch (B * S * S threads): the z-buffer's nearest face among its
// tile's faces in face order (the faces' order of a full scan), the nearest visible line point over the image's boundary edges in order, then
// the pixel's maps and colour (the CUDA forward; the CPU forward visits the same pairs face-major
// and edge-major with the same comparisons).
template <typename T>
struct OpenDRForwardPixelKernel {
  OpenDRForwardArgs<T> a;
  HOST_DEVICE void operator()(int64_t i) const {
    const HardKernelParams<T>& p = a.p.hard;
    const int64_t plane = int64_t(p.size) * p.size;
    const int64_t b = i / plane;
    const int pix = int(i % plane);
    const int row = pix / p.size, col = pix % p.size;
    const HardFace<T>* faces = a.setups + b * p.num_faces;
    const T* textures = a.textures ? a.textures + b * p.num_faces * p.texture_size * 3 : nullptr;
    int64_t begin, end;
    pixel_bin(a.tile_offsets, a.tiles, kHardTile, b, row, col, begin, end);
    const int zface = nearest_face(faces, p, row, col, a.tile_faces + begin, end - begin);
    int best = -1;
    T best_t = T(0), best_q = T(0);
    if (a.p.overdraw) {
      T zdepth = p.far;
      if (zface >= 0) hard_depth_at(faces[zface], p, pixel_x<T>(col, p.size), pixel_y<T>(row, p.size), zdepth);
      const EdgeLine<T>* lines = a.lines + b * a.p.num_edges;
      for (int k = 0; k < a.counts[b]; ++k) {
        const EdgeLine<T>& line = lines[k];
        const int m = line.x_major ? col : row;
        if (m < line.first || m > line.last) continue;
        T t, q;
        if (edge_line_point(line, m, p.size, t, q) != (line.x_major ? row : col)) continue;
        if (!edge_point_visible(q, zface, zdepth, faces, p)) continue;
        if (best < 0 || q > best_q) {
          best = k;
          best_t = t;
          best_q = q;
        }
      }
    }
    T* image = a.image + b * 4 * plane;
    if (best >= 0) {
      write_line_pixel(a.lines[b * a.p.num_edges + best], best_t, best_q, textures, p, row, col, image,
                       a.face_index + b * plane, a.weights + b * 3 * plane, a.depth + b * plane, a.mask + b * plane);
    } else {
      write_hard_pixel(faces, textures, p, row, col, zface, image, a.face_index + b * plane, a.weights + b * 3 * plane,
                       a.depth + b * plane);
      a.mask[b * plane + pix] = 0;
    }
  }
};

// Backward arguments of the launch sequences.
template <typename T>
struct OpenDRBackwardArgs {
  const T* faces;             // (B * F, 9)
  const T* textures;          // (B * F, T * 3) or null
  const T* image;             // (B, 4, S, S)
  const int32_t* face_index;  // (B, S, S)
  const T* weights;           // (B, S, S, 3)
  const uint8_t* mask;        // (B, S, S)
  const T* grad_image;        // (B, 4, S, S)
  T* gradient;                // (B, 2, S, S) scratch: sum_c dL/dI_c G_x,c and sum_c dL/dI_c G_row,c
  T* grad_faces;              // (B * F, 9)
  T* grad_textures;           // (B * F, T * 3) or null
  int64_t batch;
  HardKernelParams<T> p;
};

// Thread i: pixel i of the batch (B * S * S threads): sum_c dL/dI_c G_c along x and down the
// rows, for pixels that belong to a face (the others are never read).
template <typename T>
struct OpenDRImageGradientKernel {
  OpenDRBackwardArgs<T> a;
  HOST_DEVICE void operator()(int64_t i) const {
    const int size = a.p.size;
    const int64_t plane = int64_t(size) * size;
    const int64_t b = i / plane;
    const int pix = int(i % plane);
    T* out = a.gradient + b * 2 * plane + pix;
    out[0] = T(0);
    out[plane] = T(0);
    if (a.face_index[i] < 0) return;
    const int row = pix / size, col = pix % size;
    const uint8_t* mask = a.mask + b * plane;
    const int first_channel = a.p.texture_type == kNmrNoTexture ? 3 : 0;
    T gx = T(0), gy = T(0);
    for (int c = first_channel; c < 4; ++c) {
      const int64_t offset = (b * 4 + c) * plane;
      const T adjoint = a.grad_image[offset + pix];
      if (adjoint == T(0)) continue;
      const T* channel = a.image + offset;
      gx += adjoint * opendr_difference(channel + int64_t(row) * size, mask + int64_t(row) * size, 1, size, col);
      gy += adjoint * opendr_difference(channel + col, mask + col, size, size, row);
    }
    out[0] = gx;
    out[plane] = gy;
  }
};

// Thread i: face i of the batch (B * F threads) gathers its gradient over the pixels that
// belong to it (all within its bounding box grown by a pixel), writing only its own outputs.
template <typename T>
struct OpenDRFaceGradientKernel {
  OpenDRBackwardArgs<T> a;
  HOST_DEVICE void operator()(int64_t i) const {
    const HardKernelParams<T>& p = a.p;
    const int size = p.size;
    const int64_t plane = int64_t(size) * size;
    const int64_t b = i / p.num_faces;
    const int face_id = int(i % p.num_faces);
    const HardFace<T> f = setup_hard_face(a.faces + 9 * i, p);
    T gx[3] = {T(0), T(0), T(0)}, gy[3] = {T(0), T(0), T(0)};
    if (f.drawable) {
      const int64_t block = int64_t(p.texture_size) * 3;
      const T* texture = a.textures ? a.textures + i * block : nullptr;
      T* grad_texture = a.grad_textures ? a.grad_textures + i * block : nullptr;
      const int32_t* face_index = a.face_index + b * plane;
      const T* weights = a.weights + b * 3 * plane;
      const T* gradient = a.gradient + b * 2 * plane;
      const T* grad_image = a.grad_image + b * 4 * plane;
      const T pad = T(2) / T(size);  // one pixel
      int r0, r1, c0, c1;
      exact_span(f.ymin - pad, f.ymax + pad, size, true, r0, r1);
      exact_span(f.xmin - pad, f.xmax + pad, size, false, c0, c1);
      for (int r = r0; r <= r1; ++r) {
        for (int c = c0; c <= c1; ++c) {
          const int64_t pix = int64_t(r) * size + c;
          if (face_index[pix] != face_id) continue;
          const T* w = weights + 3 * pix;
          const T dx = gradient[pix], dy = gradient[plane + pix];
          for (int k = 0; k < 3; ++k) {
            gx[k] += dx * w[k];
            gy[k] += dy * w[k];
          }
          if (grad_texture) {
            const T grad_color[3] = {grad_image[pix], grad_image[plane + pix], grad_image[2 * plane + pix]};
            if (grad_color[0] == T(0) && grad_color[1] == T(0) && grad_color[2] == T(0)) continue;
            T unused[3];
            hard_sample_backward(texture, p, w, grad_color, unused, grad_texture);
          }
        }
      }
    }
    const T half = T(size) * T(0.5);
    T* grad_face = a.grad_faces + 9 * i;
    for (int k = 0; k < 3; ++k) {
      grad_face[3 * k + 0] = -gx[k] * half;
      grad_face[3 * k + 1] = gy[k] * half;
      grad_face[3 * k + 2] = T(0);
    }
  }
};

// The CUDA launch sequences (the CPU emulates them with SerialLauncher); the scratch buffers
// of the arguments are allocated by the caller.
// like: a tensor on the launch's device (for the tile bins' storage).
template <typename T, class Launcher>
void opendr_forward_launch(const Launcher& launch, const OpenDRForwardArgs<T>& args, const at::Tensor& like) {
  const int64_t count = args.batch * args.p.hard.num_faces;
  launch(count, HardSetupKernel<T>{args.faces, args.setups, args.p.hard});
  at::Tensor rects_holder;
  TileRect* rects = scratch_buffer<TileRect>(rects_holder, like, count);
  launch(count, HardFaceRectKernel<T>{args.setups, rects, args.p.hard.size});
  OpenDRForwardArgs<T> a = args;
  a.tiles = (a.p.hard.size + kHardTile - 1) / kHardTile;
  const TileBins bins = bin_faces_in_tiles(launch, rects, a.batch, a.p.hard.num_faces, a.tiles, like);
  a.tile_faces = bins.faces_ptr();
  a.tile_offsets = bins.offsets_ptr();
  if (a.p.overdraw) launch(a.batch, CollectEdgesKernel<T>{a});
  launch(a.batch * int64_t(a.p.hard.size) * a.p.hard.size, OpenDRForwardPixelKernel<T>{a});
}

template <typename T, class Launcher>
void opendr_backward_launch(const Launcher& launch, const OpenDRBackwardArgs<T>& a) {
  launch(a.batch * int64_t(a.p.size) * a.p.size, OpenDRImageGradientKernel<T>{a});
  launch(a.batch * a.p.num_faces, OpenDRFaceGradientKernel<T>{a});
}

}  // namespace renderers
