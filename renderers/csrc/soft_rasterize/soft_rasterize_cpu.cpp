// SoftRas on the CPU: all cores through at::parallel_for, deterministic (every pixel and
// every face is computed by one thread in a fixed order, whatever the thread count).
//
// Forward: work items are (image, band of rows). Within a band the faces are visited in
// index order and each face touches only the pixels of its grown bounding box, so the
// cost grows with covered pixels x nearby faces, not with pixels x faces.
// Backward: work items are (image, face). A face gathers its own gradient over its
// bounding box; nothing is shared between items, so no atomics and no reductions.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "soft_rasterize.h"
#include "soft_rasterize_kernel.h"

namespace renderers {
namespace {

constexpr int kPadding = 8;  // lanes a vectorized row may read or write past its last pixel

// Pixel-centre tables of an S x S image, padded: xs[c] = pixel_x(c), ys[r] = pixel_y(r) for
// c, r < S + kPadding (exact_span reads them instead of dividing).
template <typename T>
std::vector<T> centre_table(int size, bool rows) {
  std::vector<T> centres(size + kPadding);
  for (int i = 0; i < size + kPadding; ++i) centres[i] = rows ? pixel_y<T>(i, size) : pixel_x<T>(i, size);
  return centres;
}

// ---------------------------------------------------------------------------------------
// Vectorized float path for silhouette-only rendering with euclidean distance (the training
// configuration), in silhouette_lanes.inc: W pixels of a face row at a time with GCC/Clang
// vector extensions, W = 8 with FMA (AVX2 + FMA, chosen at run time where the CPU has them;
// GCC builds) or 4 (SSE2 on every x86-64; other CPUs get their own 128-bit vectors). The
// tests compare both widths with the dense reference like every other path. Results are
// deterministic on a machine; the width changes the rounding (FMA, order of the backward's
// lane sums), so two CPUs may differ in the last bits.
#if defined(__GNUC__)
#define RENDERERS_VECTOR_PATH 1

// Per-face constants of the vectorized pixel loops (see silhouette_lanes.inc).
struct FaceLanes {
  float x[3], y[3], ex[3], ey[3];
  float tx[3];  // ex_k / |e_k|^2 (0 for a zero-length edge)
  float ty[3];  // ey_k / |e_k|^2
  float wa[3], wb[3], wc[3];
  float inv_sigma, threshold;
};

FORCE_INLINE FaceLanes face_lanes(const FaceSetup<float>& f, const SoftKernelParams<float>& p) {
  FaceLanes l;
  for (int k = 0; k < 3; ++k) {
    l.x[k] = f.x[k];
    l.y[k] = f.y[k];
    l.ex[k] = f.ex[k];
    l.ey[k] = f.ey[k];
    l.tx[k] = f.ex[k] * f.inv_len2[k];
    l.ty[k] = f.ey[k] * f.inv_len2[k];
    l.wa[k] = f.wa[k];
    l.wb[k] = f.wb[k];
    l.wc[k] = f.wc[k];
  }
  l.inv_sigma = p.inv_sigma;
  l.threshold = p.cull_threshold;
  return l;
}

namespace lanes_narrow {
constexpr int kLanes = 4;
typedef float Floats __attribute__((vector_size(16)));
typedef int32_t Ints __attribute__((vector_size(16)));
FORCE_INLINE Floats madd(Floats a, Floats b, Floats c) { return a * b + c; }
FORCE_INLINE Floats reciprocal(Floats x) { return 1.0f / x; }
FORCE_INLINE Floats clamp01(Floats x) {
  x = x < 0.0f ? Floats{} : x;
  return x > 1.0f ? Floats{} + 1.0f : x;
}
#include "silhouette_lanes.inc"
}  // namespace lanes_narrow

#if defined(__x86_64__) && !defined(__clang__)
#define RENDERERS_WIDE_LANES 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace lanes_wide {
constexpr int kLanes = 8;
typedef float Floats __attribute__((vector_size(32)));
typedef int32_t Ints __attribute__((vector_size(32)));
FORCE_INLINE Floats madd(Floats a, Floats b, Floats c) { return __builtin_ia32_vfmaddps256(a, b, c); }
// 1 / x for x in [1, 2]: the 12-bit estimate and one Newton step (relative error below 3e-7).
FORCE_INLINE Floats reciprocal(Floats x) {
  const Floats estimate = __builtin_ia32_rcpps256(x);
  return madd(estimate, 1.0f - x * estimate, estimate);
}
FORCE_INLINE Floats clamp01(Floats x) {
  return __builtin_ia32_minps256(__builtin_ia32_maxps256(x, Floats{}), Floats{} + 1.0f);
}
#include "silhouette_lanes.inc"
}  // namespace lanes_wide
#pragma GCC pop_options

// RENDERERS_NO_AVX2=1 forces the 4-lane path (tests use it to cover both widths).
bool use_wide_lanes() {
  static const bool wide = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                           std::getenv("RENDERERS_NO_AVX2") == nullptr;
  return wide;
}
#endif

// The widest variant this CPU runs.
template <int kAlphaMode>
void silhouette_forward_face(const FaceLanes& f, const float* xs, const float* ys, int r0, int r1, int c0, int c1,
                             int row_begin, float* state, int stride) {
#ifdef RENDERERS_WIDE_LANES
  if (use_wide_lanes()) return lanes_wide::forward_face<kAlphaMode>(f, xs, ys, r0, r1, c0, c1, row_begin, state, stride);
#endif
  lanes_narrow::forward_face<kAlphaMode>(f, xs, ys, r0, r1, c0, c1, row_begin, state, stride);
}
template <int kAlphaMode>
void silhouette_backward_face_lanes(const float* face, const SoftKernelParams<float>& p, const float* xs,
                                    const float* ys, const float* scaled, int stride, float* grad_face) {
#ifdef RENDERERS_WIDE_LANES
  if (use_wide_lanes()) return lanes_wide::backward_face<kAlphaMode>(face, p, xs, ys, scaled, stride, grad_face);
#endif
  lanes_narrow::backward_face<kAlphaMode>(face, p, xs, ys, scaled, stride, grad_face);
}
#endif

// Whether the vectorized silhouette path runs: float32, euclidean distance, no colour.
bool use_lanes(const at::Tensor& face_vertices, const SoftRasParams& p) {
#ifdef RENDERERS_VECTOR_PATH
  return face_vertices.scalar_type() == at::kFloat && p.aggr_rgb == kRgbNone && p.dist_func == kEuclidean;
#else
  return false;
#endif
}

// Work items of the forward: (image, band of rows), with enough bands to keep every thread
// busy when the batch is small.
struct Bands {
  int count, rows;
};

Bands forward_bands(int64_t batch, int size) {
  const int64_t threads = at::get_num_threads();
  const int count = int(std::clamp<int64_t>((4 * threads + batch - 1) / batch, 1, size));
  return {count, (size + count - 1) / count};
}

// The pixels of a face's grown box within rows [row_begin, row_end): rows [r0, r1], columns
// [c0, c1]; false when there are none.
template <typename T>
FORCE_INLINE bool face_box_in_band(const FaceSetup<T>& face, const T* xs, const T* ys, int size, int row_begin,
                                   int row_end, int& r0, int& r1, int& c0, int& c1) {
  exact_span(face.ymin, face.ymax, size, true, r0, r1, ys);
  r0 = std::max(r0, row_begin);
  r1 = std::min(r1, row_end - 1);
  if (r0 > r1) return false;
  exact_span(face.xmin, face.xmax, size, false, c0, c1, xs);
  return c0 <= c1;
}

template <typename T>
void forward_impl(const at::Tensor& face_vertices, const at::Tensor& textures, const SoftRasParams& params,
                  at::Tensor& image, at::Tensor& aux) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  const int texture_size = textures.defined() && textures.dim() == 4 ? int(textures.size(2)) : 0;
  const SoftKernelParams<T> p = make_kernel_params<T>(params, num_faces, texture_size);
  const int size = p.size;
  const T* faces_ptr = face_vertices.data_ptr<T>();
  const T* textures_ptr = texture_size > 0 ? textures.data_ptr<T>() : nullptr;
  T* image_ptr = image.data_ptr<T>();
  T* aux_ptr = aux.data_ptr<T>();
  const Bands bands = forward_bands(batch, size);
  const int64_t plane = int64_t(size) * size;
  const std::vector<T> xs = centre_table<T>(size, false), ys = centre_table<T>(size, true);

  at::parallel_for(0, batch * bands.count, 1, [&](int64_t begin, int64_t end) {
    std::vector<PixelAccumulator<T>> acc(size_t(bands.rows) * size);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / bands.count;
      const int row_begin = int(item % bands.count) * bands.rows;
      const int row_end = std::min(size, row_begin + bands.rows);
      if (row_begin >= row_end) continue;
      for (int i = 0; i < (row_end - row_begin) * size; ++i) init_pixel(acc[i], p);
      const T* image_faces = faces_ptr + b * num_faces * 9;
      const T* image_textures = textures_ptr ? textures_ptr + b * num_faces * texture_size * 3 : nullptr;
      for (int f = 0; f < num_faces; ++f) {
        const FaceSetup<T> face = setup_face(image_faces + 9 * f, p);
        int r0, r1, c0, c1;
        if (!face.visible || !face_box_in_band(face, xs.data(), ys.data(), size, row_begin, row_end, r0, r1, c0, c1))
          continue;
        const T* face_texture = image_textures ? image_textures + f * texture_size * 3 : nullptr;
        for (int r = r0; r <= r1; ++r) {
          const T py = ys[r];
          PixelAccumulator<T>* row_acc = acc.data() + (r - row_begin) * size;
          for (int c = c0; c <= c1; ++c) {
            Coverage<T> cov;
            if (!coverage_in_box(face, p, xs[c], py, cov)) continue;
            accumulate_face(row_acc[c], face, face_texture, p, cov, f);
          }
        }
      }
      T* image_b = image_ptr + b * 4 * plane;
      T* aux_b = aux_ptr + b * 3 * plane;
      for (int r = row_begin; r < row_end; ++r)
        for (int c = 0; c < size; ++c) write_pixel(acc[(r - row_begin) * size + c], p, r, c, image_b, aux_b);
    }
  });
}

#ifdef RENDERERS_VECTOR_PATH
// The forward of the vectorized silhouette path (use_lanes): the same work items and face
// order as forward_impl, the alpha states of a band in rows padded for whole vectors.
template <int kAlphaMode>
void forward_lanes(const at::Tensor& face_vertices, const SoftRasParams& params, at::Tensor& image,
                   at::Tensor& aux) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  SoftKernelParams<float> p = make_kernel_params<float>(params, num_faces, 0);
  p.aggr_alpha = kAlphaMode;  // a constant from here on: alpha_finalize below specialises
  const int size = p.size, stride = size + kPadding;
  const float* faces_ptr = face_vertices.data_ptr<float>();
  float* image_ptr = image.data_ptr<float>();
  float* aux_ptr = aux.data_ptr<float>();
  const Bands bands = forward_bands(batch, size);
  const int64_t plane = int64_t(size) * size;
  const std::vector<float> xs = centre_table<float>(size, false), ys = centre_table<float>(size, true);

  at::parallel_for(0, batch * bands.count, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> state(size_t(bands.rows) * stride);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / bands.count;
      const int row_begin = int(item % bands.count) * bands.rows;
      const int row_end = std::min(size, row_begin + bands.rows);
      if (row_begin >= row_end) continue;
      std::fill(state.begin(), state.end(), alpha_initial<float>(kAlphaMode));
      const float* image_faces = faces_ptr + b * num_faces * 9;
      for (int f = 0; f < num_faces; ++f) {
        const FaceSetup<float> face = setup_face(image_faces + 9 * f, p);  // only what is read below is kept
        int r0, r1, c0, c1;
        if (!face.visible || !face_box_in_band(face, xs.data(), ys.data(), size, row_begin, row_end, r0, r1, c0, c1))
          continue;
        silhouette_forward_face<kAlphaMode>(face_lanes(face, p), xs.data(), ys.data(), r0, r1, c0, c1, row_begin,
                                            state.data(), stride);
      }
      float* image_b = image_ptr + b * 4 * plane;
      float* aux_b = aux_ptr + b * 3 * plane;
      const int64_t first = int64_t(row_begin) * size, count = int64_t(row_end - row_begin) * size;
      for (int ch = 0; ch < 3; ++ch) std::fill_n(image_b + ch * plane + first, count, 0.0f);  // no colour
      for (int ch = 1; ch < 3; ++ch) std::fill_n(aux_b + ch * plane + first, count, 0.0f);
      for (int r = row_begin; r < row_end; ++r) {
        const float* row_state = state.data() + (r - row_begin) * stride;
        float* alpha = image_b + 3 * plane + int64_t(r) * size;
        float* extra = aux_b + int64_t(r) * size;
        for (int c = 0; c < size; ++c) alpha_finalize(row_state[c], p, alpha[c], extra[c]);
      }
    }
  });
}
#endif

// The per-pixel factor every face's silhouette backward shares, dL/dA times prod_k (1 - D_k)
// ("prod") or 1 / F ("sum") (alpha_gradient_scale), as (B, S, S + kPadding) rows padded with
// zeros, plus kPadding zeros at the end.
template <typename T>
std::vector<T> alpha_scales(const T* grad_image, const T* aux, int64_t batch, const SoftKernelParams<T>& p) {
  const int size = p.size, stride = size + kPadding;
  const int64_t plane = int64_t(size) * size, image_stride = int64_t(size) * stride;
  std::vector<T> scaled(size_t(batch * image_stride + kPadding), T(0));
  at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b)
      for (int64_t r = 0; r < size; ++r) {
        const T* grad_alpha = grad_image + (b * 4 + 3) * plane + r * size;
        const T* prod = aux + b * 3 * plane + r * size;  // prod_k (1 - D_k) ("prod")
        T* out = scaled.data() + b * image_stride + r * stride;
        for (int c = 0; c < size; ++c) out[c] = alpha_gradient_scale(grad_alpha[c], prod[c], p);
      }
  });
  return scaled;
}

// Backward of one face for silhouette-only rendering: dL/dx_j = scaled(p) * D_j
// [* (1 - D_j) for "sum"], scaled = dL/dA * (prod_k (1 - D_k) or 1 / F) per pixel.
template <typename T>
void silhouette_backward_face(const T* face, const SoftKernelParams<T>& p, const T* xs, const T* scaled,
                              int stride, T* grad_face) {
  const FaceSetup<T> f = setup_face(face, p);
  T gx[3] = {T(0), T(0), T(0)}, gy[3] = {T(0), T(0), T(0)};
  if (f.visible) {
    const int size = p.size;
    int r0, r1, c0, c1;
    face_pixel_box(f, size, r0, r1, c0, c1);
    for (int r = r0; r <= r1; ++r) {
      const T py = pixel_y<T>(r, size);
      const T* row = scaled + int64_t(r) * stride;
      for (int c = c0; c <= c1; ++c) {
        Coverage<T> cov;
        if (row[c] == T(0) || !coverage_in_box(f, p, xs[c], py, cov)) continue;
        T D, complement;
        sigmoid_pair(cov.logit, D, complement);
        const T grad_logit = alpha_logit_gradient(row[c], D, complement, p.aggr_alpha);
        if (p.dist_func == kEuclidean) {
          const T grad_d2 = grad_logit * (cov.inside ? p.inv_sigma : -p.inv_sigma);
          nearest_boundary_point_backward(f.x, f.y, f.ex, f.ey, xs[c], py, cov.t, cov.edge, grad_d2, gx, gy);
        } else {
          T grad_w[3] = {T(0), T(0), T(0)};
          const T m = cov.w[cov.edge];
          grad_w[cov.edge] = grad_logit * T(2) * (m > T(0) ? m : -m) * p.inv_sigma;
          barycentric_backward(f.x, f.y, f.area, f.area_clamped, cov.w, grad_w, xs[c], py, gx, gy);
        }
      }
    }
  }
  for (int k = 0; k < 3; ++k) {
    grad_face[3 * k + 0] = gx[k];
    grad_face[3 * k + 1] = gy[k];
    grad_face[3 * k + 2] = T(0);  // silhouettes do not depend on depth
  }
}

template <typename T>
void backward_impl(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                   const at::Tensor& aux, const at::Tensor& grad_image, const SoftRasParams& params,
                   at::Tensor& grad_face_vertices, at::Tensor& grad_textures) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  const int texture_size = textures.defined() && textures.dim() == 4 ? int(textures.size(2)) : 0;
  const SoftKernelParams<T> p = make_kernel_params<T>(params, num_faces, texture_size);
  const int64_t plane = int64_t(p.size) * p.size;
  const T* faces_ptr = face_vertices.data_ptr<T>();
  const T* textures_ptr = texture_size > 0 ? textures.data_ptr<T>() : nullptr;
  const T* image_ptr = image.data_ptr<T>();
  const T* aux_ptr = aux.data_ptr<T>();
  const T* grad_image_ptr = grad_image.data_ptr<T>();
  T* grad_faces_ptr = grad_face_vertices.data_ptr<T>();
  T* grad_textures_ptr = texture_size > 0 ? grad_textures.data_ptr<T>() : nullptr;

  if (p.aggr_rgb == kRgbNone) {
    if (p.aggr_alpha == kAlphaHard) return;  // no gradient: the outputs are already zero
    const int size = p.size, stride = size + kPadding;
    const int64_t image_stride = int64_t(size) * stride;
    const std::vector<T> scaled = alpha_scales(grad_image_ptr, aux_ptr, batch, p);
    const std::vector<T> xs = centre_table<T>(size, false), ys = centre_table<T>(size, true);
    const bool lanes = use_lanes(face_vertices, params);
    at::parallel_for(0, batch * num_faces, 64, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const T* image_scaled = scaled.data() + (i / num_faces) * image_stride;
#ifdef RENDERERS_VECTOR_PATH
        if constexpr (std::is_same_v<T, float>) {
          if (lanes) {
            if (p.aggr_alpha == kAlphaProd)
              silhouette_backward_face_lanes<kAlphaProd>(faces_ptr + 9 * i, p, xs.data(), ys.data(), image_scaled,
                                                         stride, grad_faces_ptr + 9 * i);
            else
              silhouette_backward_face_lanes<kAlphaSum>(faces_ptr + 9 * i, p, xs.data(), ys.data(), image_scaled,
                                                        stride, grad_faces_ptr + 9 * i);
            continue;
          }
        }
#endif
        silhouette_backward_face(faces_ptr + 9 * i, p, xs.data(), image_scaled, stride, grad_faces_ptr + 9 * i);
      }
    });
    (void)lanes;
    return;
  }

  at::parallel_for(0, batch * num_faces, 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / num_faces;
      const int f = int(i % num_faces);
      backward_face(faces_ptr + 9 * i, textures_ptr ? textures_ptr + i * texture_size * 3 : nullptr, p, f,
                    image_ptr + b * 4 * plane, aux_ptr + b * 3 * plane, grad_image_ptr + b * 4 * plane,
                    grad_faces_ptr + 9 * i, grad_textures_ptr ? grad_textures_ptr + i * texture_size * 3 : nullptr);
    }
  });
}

}  // namespace

void soft_rasterize_forward_cpu(const at::Tensor& face_vertices, const at::Tensor& textures,
                                const SoftRasParams& params, at::Tensor& image, at::Tensor& aux) {
#ifdef RENDERERS_VECTOR_PATH
  if (use_lanes(face_vertices, params)) {
    if (params.aggr_alpha == kAlphaProd) return forward_lanes<kAlphaProd>(face_vertices, params, image, aux);
    if (params.aggr_alpha == kAlphaSum) return forward_lanes<kAlphaSum>(face_vertices, params, image, aux);
    return forward_lanes<kAlphaHard>(face_vertices, params, image, aux);
  }
#endif
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "soft_rasterize_forward_cpu",
                             [&] { forward_impl<scalar_t>(face_vertices, textures, params, image, aux); });
}

void soft_rasterize_backward_cpu(const at::Tensor& face_vertices, const at::Tensor& textures,
                                 const at::Tensor& image, const at::Tensor& aux, const at::Tensor& grad_image,
                                 const SoftRasParams& params, at::Tensor& grad_face_vertices,
                                 at::Tensor& grad_textures) {
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "soft_rasterize_backward_cpu", [&] {
    backward_impl<scalar_t>(face_vertices, textures, image, aux, grad_image, params, grad_face_vertices,
                            grad_textures);
  });
}

}  // namespace renderers
