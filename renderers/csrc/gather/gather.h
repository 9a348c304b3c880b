// Per-face gathers of per-vertex values, optionally through the perspective projection of
// renderers/camera.py: the first step of every renderer. Fused so that the forward is one pass
// and the backward one deterministic pass (CPU and CUDA: no atomics) instead of a chain of
// small tensor ops and an index_add.
//
//   values         (B, V, C) float32/float64; camera coordinates (C = 3) when projecting
//   faces          (F, 3) shared by the batch, or (B, F, 3); int64 indices into V
//   output         (B, F, 3, C): output[b, f, k] = values[b, faces[f, k]], or, when
//                  scale = tan(half viewing angle) > 0, its projection (x / (z s), y / (z s), z)
//   grad_values    (B, V, C): the backward, summed over every corner that uses a vertex
#pragma once

#include <ATen/ATen.h>

#include "../common/macros.h"

namespace renderers {

// Perspective projection of one camera-space point (x, y, z) to (x / (z s), y / (z s), z).
template <typename T>
HOST_DEVICE FORCE_INLINE void perspective_point(const T* point, T scale, T* out) {
  const T zs = point[2] * scale;
  out[0] = point[0] / zs;
  out[1] = point[1] / zs;
  out[2] = point[2];
}

// Adds dL/d(x, y, z) of perspective_point to grad, given g = dL/d(output).
// dx'/dx = 1 / (z s), dx'/dz = -x / (z^2 s), and the same for y; z' = z.
// A corner without gradient adds nothing, even where the projection is singular (z = 0): the
// renderers do not draw faces with a corner nearer than their near plane, and their zero
// gradient must not become 0 * inf = NaN here.
template <typename T>
HOST_DEVICE FORCE_INLINE void perspective_point_backward(const T* point, T scale, const T* g, T* grad) {
  if (g[0] == T(0) && g[1] == T(0) && g[2] == T(0)) return;
  const T zs = point[2] * scale;
  grad[0] += g[0] / zs;
  grad[1] += g[1] / zs;
  grad[2] += g[2] - (g[0] * point[0] + g[1] * point[1]) * scale / (zs * zs);
}

// One corner of one face: copies (or projects) its vertex's C values.
template <typename T>
HOST_DEVICE FORCE_INLINE void gather_corner(const T* vertex, int64_t channels, T scale, T* out) {
  if (scale > T(0)) {
    perspective_point(vertex, scale, out);
  } else {
    for (int64_t c = 0; c < channels; ++c) out[c] = vertex[c];
  }
}

// The gradient of one corner, added to its vertex's gradient (grad_vertex).
template <typename T>
HOST_DEVICE FORCE_INLINE void gather_corner_backward(const T* vertex, int64_t channels, T scale, const T* g,
                                                     T* grad_vertex) {
  if (scale > T(0)) {
    perspective_point_backward(vertex, scale, g, grad_vertex);
  } else {
    for (int64_t c = 0; c < channels; ++c) grad_vertex[c] += g[c];
  }
}

// Entry points: validate, allocate, dispatch on the device. scale <= 0 gathers without projecting.
// emulate_cuda (CPU tensors only, tests): run the CUDA launch sequence (gather_launch.h) serially.
// check_indices false skips the face-index range check (a device-to-host copy) for callers that
// made it already (renderers/checks.py); the shape, dtype and device checks always run.
at::Tensor gather_faces_forward(const at::Tensor& values, const at::Tensor& faces, double scale,
                                bool emulate_cuda = false, bool check_indices = true);
at::Tensor gather_faces_backward(const at::Tensor& values, const at::Tensor& faces, const at::Tensor& grad_output,
                                 double scale, bool emulate_cuda = false, bool check_indices = true);

// Device implementations: faces (B or 1, F, 3) contiguous int64, face_batch_stride 0 when shared.
void gather_faces_forward_cpu(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride,
                              double scale, at::Tensor& output);
void gather_faces_backward_cpu(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride,
                               const at::Tensor& grad_output, double scale, at::Tensor& grad_values);
void gather_faces_forward_emulated(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride,
                                   double scale, at::Tensor& output);
void gather_faces_backward_emulated(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride,
                                    const at::Tensor& grad_output, double scale, at::Tensor& grad_values);
#ifdef WITH_CUDA
void gather_faces_forward_cuda(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride,
                               double scale, at::Tensor& output);
void gather_faces_backward_cuda(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride,
                                const at::Tensor& grad_output, double scale, at::Tensor& grad_values);
#endif

}  // namespace renderers
