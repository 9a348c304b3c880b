// The CPU silhouette drivers of SoftRas (aggr_rgb none: the training configuration), generic
// over the value type V: a scalar (double, or float at width 1) or a FloatPack block of
// kCols x kRows pixels (common/lanes.h), with the aggregation and distance modes as constants.
// They run the lane-generic math of soft_rasterize_kernel.h, the same functions the colour path
// and the CUDA kernels call.
//
// One translation unit per instruction set instantiates them (RENDERERS_SILHOUETTE_ENTRIES):
// soft_rasterize_cpu.cpp (scalars, 4 lanes: the x86-64 baseline), soft_rasterize_cpu_avx2.cpp
// (8 lanes) and soft_rasterize_cpu_avx512.cpp (16 lanes). A wide unit sets its `#pragma GCC
// target` before it includes this header and keeps it to the end of the file: GCC builds vector
// comparisons for the target in force when it parses and when it instantiates a template (at the
// end of the file), and AVX-512 comparisons built for another target are scalarised lane by
// lane. Such a unit includes nothing else of its own, defines only its entry table, and inlines
// everything (FORCE_INLINE), so no function compiled for the wider target can be linked into
// another unit's calls (scripts/check_lane_units.sh checks the objects' symbols).
#pragma once

#include "../common/geometry.h"
#include "../common/lanes.h"
#include "../common/macros.h"
#include "../common/math.h"
#include "soft_rasterize_kernel.h"

namespace renderers {

// Per-face setup, defined in soft_rasterize_cpu.cpp with the extension's flags (no contraction
// into fused multiply-adds) and never inlined into the lane variants: every path then sees the
// same FaceSetup bit for bit, so rounding-decided choices (a sliver's orientation, a culled face)
// are the same on every path, the CUDA emulation and the reference.
FaceSetup<float> face_setup(const float* face, const SoftKernelParams<float>& p);
FaceSetup<double> face_setup(const double* face, const SoftKernelParams<double>& p);


template <int kAlpha, int kDist, typename T>
FORCE_INLINE SoftKernelParams<T> with_modes(SoftKernelParams<T> p) {
  p.aggr_alpha = kAlpha;  // constants from here on: the branches on them fold away
  p.dist_func = kDist;
  return p;
}

// The pixels of a face's grown box within rows [row_begin, row_end): rows [r0, r1], columns
// [c0, c1]; false when there are none.
template <typename T>
FORCE_INLINE bool face_box_in_band(const FaceSetup<T>& face, const T* xs, const T* ys, int size, int row_begin,
                                   int row_end, int& r0, int& r1, int& c0, int& c1) {
  exact_span(face.ymin, face.ymax, size, true, r0, r1, ys);
  r0 = max_(r0, row_begin);
  r1 = min_(r1, row_end - 1);
  if (r0 > r1) return false;
  exact_span(face.xmin, face.xmax, size, false, c0, c1, xs);
  return c0 <= c1;
}

// What one work item of the silhouette forward reads and writes.
template <typename T>
struct SilhouetteForwardJob {
  const T* faces;  // this image's (F, 9)
  const T* xs;
  const T* ys;
  SoftKernelParams<T> p;
  int row_begin, row_end;
  T* state;        // the band's alpha states, rows of `stride` (plus kRowPadding rows)
  int stride;
};

// Forward of one band: every face in index order updates the alpha states of its pixels.
template <typename V, int kAlpha, int kDist, typename T>
FORCE_INLINE void silhouette_forward_band(const SilhouetteForwardJob<T>& job) {
  constexpr int kCols = BlockShape<V>::kCols, kRows = BlockShape<V>::kRows;
  const SoftKernelParams<T> p = with_modes<kAlpha, kDist>(job.p);
  const int num_faces = p.num_faces;
  for (int f = 0; f < num_faces; ++f) {
    const FaceSetup<T> face = face_setup(job.faces + 9 * f, p);
    int r0, r1, c0, c1;
    if (!face.visible || !face_box_in_band(face, job.xs, job.ys, p.size, job.row_begin, job.row_end, r0, r1, c0, c1))
      continue;
    for (int r = r0; r <= r1; r += kRows) {
      const V py = block_rows<V>(job.ys + r);
      T* row_state = job.state + int64_t(r - job.row_begin) * job.stride;
      for (int c = c0; c <= c1; c += kCols) {
        const V px = load_block<V>(job.xs + c, 0);
        const SoftSample<V> s = soft_sample(face, p, px, py, block_span<V>(r, c, r1, c1));
        if (!any_lane(s.keep)) continue;
        T* block = row_state + c;
        store_block(block, job.stride, alpha_update(load_block<V>(block, job.stride), s, kAlpha));
      }
    }
  }
}

// What one work item of the silhouette backward reads and writes.
template <typename T>
struct SilhouetteBackwardJob {
  const T* face;    // (9,)
  const T* xs;
  const T* ys;
  const T* scaled;  // this image's alpha_gradient_scale, rows of `stride` (see alpha_scales)
  int stride;
  SoftKernelParams<T> p;
  T* grad_face;     // (9,)
};

// Silhouette backward of one face over its grown box (grad_face: dL/d(x, y, z) of its vertices;
// z gets 0, silhouettes do not depend on depth).
template <typename V, int kAlpha, int kDist, typename T>
FORCE_INLINE void silhouette_backward_face(const SilhouetteBackwardJob<T>& job) {
  constexpr int kCols = BlockShape<V>::kCols, kRows = BlockShape<V>::kRows;
  const SoftKernelParams<T> p = with_modes<kAlpha, kDist>(job.p);
  const FaceSetup<T> f = face_setup(job.face, p);
  V gx[3] = {V(0), V(0), V(0)}, gy[3] = {V(0), V(0), V(0)};
  if (f.visible) {
    int r0, r1, c0, c1;
    exact_span(f.ymin, f.ymax, p.size, true, r0, r1, job.ys);
    exact_span(f.xmin, f.xmax, p.size, false, c0, c1, job.xs);
    for (int r = r0; r <= r1; r += kRows) {
      const V py = block_rows<V>(job.ys + r);
      const T* row_scaled = job.scaled + int64_t(r) * job.stride;
      for (int c = c0; c <= c1; c += kCols) {
        const V scaled = load_block<V>(row_scaled + c, job.stride);
        const V px = load_block<V>(job.xs + c, 0);
        const SoftSample<V> s = soft_sample(f, p, px, py, block_span<V>(r, c, r1, c1) & (scaled != V(0)));
        if (kEarlyCull<V> && !any_lane(s.keep)) continue;  // packs: no branch (rarely all culled)
        silhouette_backward_pair(f, p, s, scaled, px, py, gx, gy);
      }
    }
  }
  for (int k = 0; k < 3; ++k) {
    job.grad_face[3 * k + 0] = lane_sum(gx[k]);
    job.grad_face[3 * k + 1] = lane_sum(gy[k]);
    job.grad_face[3 * k + 2] = T(0);
  }
}

// Entry points of one value type: a table over the (alpha, distance) modes.
template <typename T>
struct SilhouetteKernels {
  using Forward = void (*)(const SilhouetteForwardJob<T>&);
  using Backward = void (*)(const SilhouetteBackwardJob<T>&);
  Forward forward[3][2];
  Backward backward[3][2];
};

// Defines name_kernels(), the table of value type V (T: its scalar type).
#define RENDERERS_SILHOUETTE_ENTRIES(name, V, T)                                                                  \
  template <int kAlpha, int kDist>                                                                               \
  void name##_forward(const SilhouetteForwardJob<T>& job) { silhouette_forward_band<V, kAlpha, kDist>(job); }   \
  template <int kAlpha, int kDist>                                                                               \
  void name##_backward(const SilhouetteBackwardJob<T>& job) { silhouette_backward_face<V, kAlpha, kDist>(job); } \
  SilhouetteKernels<T> name##_kernels() {                                                                        \
    return {{{name##_forward<kAlphaProd, kEuclidean>, name##_forward<kAlphaProd, kBarycentric>},                \
             {name##_forward<kAlphaSum, kEuclidean>, name##_forward<kAlphaSum, kBarycentric>},                  \
             {name##_forward<kAlphaHard, kEuclidean>, name##_forward<kAlphaHard, kBarycentric>}},               \
            {{name##_backward<kAlphaProd, kEuclidean>, name##_backward<kAlphaProd, kBarycentric>},              \
             {name##_backward<kAlphaSum, kEuclidean>, name##_backward<kAlphaSum, kBarycentric>},                \
             {name##_backward<kAlphaHard, kEuclidean>, name##_backward<kAlphaHard, kBarycentric>}}};            \
  }

// A wide unit's entry table name_kernels(), of blocks of the type given after the name (after the
// unit's #pragma GCC target).
#define RENDERERS_SILHOUETTE_UNIT(name, ...)                                  \
  namespace renderers {                                                       \
  namespace {                                                                 \
  using name##_block = __VA_ARGS__;                                           \
  RENDERERS_SILHOUETTE_ENTRIES(name##_impl, name##_block, float)              \
  }                                                                           \
  SilhouetteKernels<float> name##_kernels() { return name##_impl_kernels(); } \
  }

// The tables of the wide units (x86-64 GCC builds only).
SilhouetteKernels<float> lanes8_kernels();   // soft_rasterize_cpu_avx2.cpp
SilhouetteKernels<float> lanes16_kernels();  // soft_rasterize_cpu_avx512.cpp

}  // namespace renderers
