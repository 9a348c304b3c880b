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

// ---------------------------------------------------------------------------------------
// Vectorized float path for silhouette-only rendering with euclidean distance (the training
// configuration): W pixels of a face row at a time with GCC/Clang vector extensions, W = 8
// (AVX2, chosen at run time where the CPU has it) or 4 (SSE2, every x86-64; other CPUs get
// their own 128-bit vectors). It evaluates the same formulas as coverage_in_box /
// alpha_update / the silhouette backward, lane-wise and branch-free; exp(-|x|) uses
// exp_nonpositive_lanes, a polynomial with relative error below 2e-7. The tests compare it
// with the dense reference like every other path. Results are deterministic on a machine;
// the width changes the order of the backward's lane sums, so two CPUs may differ in the
// last bits.
#if defined(__GNUC__)
#define RENDERERS_VECTOR_PATH 1

template <int W>
struct Lanes {
  typedef float Floats __attribute__((vector_size(4 * W)));
  typedef int32_t Ints __attribute__((vector_size(4 * W)));
};
#define LANE_TYPES                              \
  using Floats = typename Lanes<W>::Floats; \
  using Ints = typename Lanes<W>::Ints

template <int W>
FORCE_INLINE typename Lanes<W>::Floats load_lanes(const float* p) {
  typename Lanes<W>::Floats v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <int W>
FORCE_INLINE void store_lanes(float* p, typename Lanes<W>::Floats v) {
  std::memcpy(p, &v, sizeof(v));
}
template <int W>
FORCE_INLINE typename Lanes<W>::Floats splat(float x) {
  return typename Lanes<W>::Floats{} + x;
}
template <int W>
FORCE_INLINE typename Lanes<W>::Floats select(typename Lanes<W>::Ints mask, typename Lanes<W>::Floats a,
                                              typename Lanes<W>::Floats b) {
  return mask ? a : b;
}
template <int W>
FORCE_INLINE float lane_sum(typename Lanes<W>::Floats v) {
  float s = 0.0f;
  for (int l = 0; l < W; ++l) s += v[l];
  return s;
}

// exp(x) for x <= 0, lane-wise: Cody-Waite reduction to |r| <= ln2/2 and a degree-7 Taylor
// polynomial (relative error below 2e-7); 0 below -87.
template <int W>
FORCE_INLINE typename Lanes<W>::Floats exp_nonpositive_lanes(typename Lanes<W>::Floats x) {
  LANE_TYPES;
  const Ints live = x > -87.0f;
  const Floats clamped = select<W>(live, x, splat<W>(-87.0f));
  const Ints n_int = __builtin_convertvector(clamped * 1.44269504f - 0.5f, Ints);  // round to nearest
  const Floats n = __builtin_convertvector(n_int, Floats);
  const Floats r = (clamped - n * 0.693359375f) + n * 2.12194440e-4f;
  Floats poly = splat<W>(1.0f / 5040.0f);
  poly = poly * r + 1.0f / 720.0f;
  poly = poly * r + 1.0f / 120.0f;
  poly = poly * r + 1.0f / 24.0f;
  poly = poly * r + 1.0f / 6.0f;
  poly = poly * r + 0.5f;
  poly = poly * r + 1.0f;
  poly = poly * r + 1.0f;
  const Ints bits = (n_int + 127) << 23;
  Floats scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return select<W>(live, poly * scale, Floats{});
}

template <int W>
struct LaneCoverage {
  typename Lanes<W>::Floats logit, d2, t, D, complement;
  typename Lanes<W>::Ints keep, inside, edge;
};

// Coverage of W pixels (px, py) of a face row; lanes outside `in_span` are never kept.
template <int W>
FORCE_INLINE LaneCoverage<W> coverage_lanes(const FaceSetup<float>& f, const SoftKernelParams<float>& p,
                                            typename Lanes<W>::Floats px, float py, typename Lanes<W>::Ints in_span) {
  LANE_TYPES;
  LaneCoverage<W> c;
  Floats w[3];
  for (int k = 0; k < 3; ++k) w[k] = f.wa[k] * px + f.wb[k] * py + f.wc[k];
  c.inside = (w[0] > 0.0f) & (w[1] > 0.0f) & (w[2] > 0.0f) & (w[0] < 1.0f) & (w[1] < 1.0f) & (w[2] < 1.0f);
  Floats dist[3], param[3];
  for (int k = 0; k < 3; ++k) {
    const Floats dx = px - f.x[k];
    const float dy = py - f.y[k];
    Floats tk = (dx * f.ex[k] + dy * f.ey[k]) * f.inv_len2[k];
    tk = select<W>(tk < 0.0f, Floats{}, tk);
    tk = select<W>(tk > 1.0f, splat<W>(1.0f), tk);
    const Floats rx = dx - tk * f.ex[k], ry = dy - tk * f.ey[k];
    dist[k] = rx * rx + ry * ry;
    param[k] = tk;
  }
  const Ints one = dist[1] < dist[0];
  c.d2 = select<W>(one, dist[1], dist[0]);
  c.t = select<W>(one, param[1], param[0]);
  c.edge = one & 1;
  const Ints two = dist[2] < c.d2;
  c.d2 = select<W>(two, dist[2], c.d2);
  c.t = select<W>(two, param[2], c.t);
  c.edge = two ? Ints{} + 2 : c.edge;
  c.keep = in_span & (c.inside | (c.d2 < p.cull_threshold));
  c.logit = select<W>(c.inside, c.d2, -c.d2) * p.inv_sigma;
  // sigmoid and its complement from e = exp(-|x|)
  const Ints positive = c.logit >= 0.0f;
  const Floats e = exp_nonpositive_lanes<W>(select<W>(positive, -c.logit, c.logit));
  const Floats inv = 1.0f / (1.0f + e);
  c.D = select<W>(positive, inv, e * inv);
  c.complement = select<W>(positive, e * inv, inv);
  return c;
}

template <int W>
FORCE_INLINE typename Lanes<W>::Ints lanes_up_to(int first, int last) {
  typename Lanes<W>::Ints index;
  for (int l = 0; l < W; ++l) index[l] = first + l;
  return index <= last;
}

template <int W, int kAlphaMode>
FORCE_INLINE void silhouette_row_lanes(const FaceSetup<float>& f, const SoftKernelParams<float>& p, const float* xs,
                                       float py, int c0, int c1, float* state) {
  LANE_TYPES;
  for (int c = c0; c <= c1; c += W) {
    const LaneCoverage<W> cov = coverage_lanes<W>(f, p, load_lanes<W>(xs + c), py, lanes_up_to<W>(c, c1));
    Floats s = load_lanes<W>(state + c);
    if (kAlphaMode == kAlphaProd) {
      s = s * select<W>(cov.keep, cov.complement, splat<W>(1.0f));
      s = select<W>(s < smallest_normal<float>(), Floats{}, s);
    } else if (kAlphaMode == kAlphaSum) {
      s = s + select<W>(cov.keep, cov.D, Floats{});
    } else {
      s = select<W>(cov.keep & (cov.D > 0.5f), splat<W>(1.0f), s);
    }
    store_lanes<W>(state + c, s);
  }
}

// Silhouette backward of one face; `scaled` holds dL/dA times prod(1 - D) or 1 / F per pixel
// in rows of `stride` (padded with zeros).
template <int W, int kAlphaMode>
FORCE_INLINE void silhouette_backward_face_lanes(const float* face, const SoftKernelParams<float>& p,
                                                 const float* xs, const float* scaled, int stride, float* grad_face) {
  LANE_TYPES;
  const FaceSetup<float> f = setup_face(face, p);
  Floats gx[3] = {}, gy[3] = {};
  if (f.visible) {
    const int size = p.size;
    int r0, r1, c0, c1;
    face_pixel_box(f, size, r0, r1, c0, c1);
    for (int r = r0; r <= r1; ++r) {
      const float py = pixel_y<float>(r, size);
      const float* row = scaled + int64_t(r) * stride;
      for (int c = c0; c <= c1; c += W) {
        const Floats px = load_lanes<W>(xs + c);
        const LaneCoverage<W> cov = coverage_lanes<W>(f, p, px, py, lanes_up_to<W>(c, c1));
        Floats grad_logit = load_lanes<W>(row + c) * cov.D;
        if (kAlphaMode == kAlphaSum) grad_logit = grad_logit * cov.complement;
        const Floats sign = select<W>(cov.inside, splat<W>(p.inv_sigma), splat<W>(-p.inv_sigma));
        const Floats grad_d2 = select<W>(cov.keep, grad_logit * sign, Floats{});
        // nearest point q = (1 - t) v_edge + t v_edge+1, d(d2)/dv = -2 (p - q) (1 - t | t)
        const Ints e0 = cov.edge == 0, e1 = cov.edge == 1, e2 = cov.edge == 2;
        const Floats xa = select<W>(e0, splat<W>(f.x[0]), select<W>(e1, splat<W>(f.x[1]), splat<W>(f.x[2])));
        const Floats ya = select<W>(e0, splat<W>(f.y[0]), select<W>(e1, splat<W>(f.y[1]), splat<W>(f.y[2])));
        const Floats exa = select<W>(e0, splat<W>(f.ex[0]), select<W>(e1, splat<W>(f.ex[1]), splat<W>(f.ex[2])));
        const Floats eya = select<W>(e0, splat<W>(f.ey[0]), select<W>(e1, splat<W>(f.ey[1]), splat<W>(f.ey[2])));
        const Floats rx = px - xa - cov.t * exa, ry = py - ya - cov.t * eya;
        const Floats ga = -2.0f * grad_d2 * (1.0f - cov.t), gb = -2.0f * grad_d2 * cov.t;
        const Ints start[3] = {e0, e1, e2}, end[3] = {e2, e0, e1};
        for (int k = 0; k < 3; ++k) {
          const Floats g = select<W>(start[k], ga, Floats{}) + select<W>(end[k], gb, Floats{});
          gx[k] += g * rx;
          gy[k] += g * ry;
        }
      }
    }
  }
  for (int k = 0; k < 3; ++k) {
    grad_face[3 * k + 0] = lane_sum<W>(gx[k]);
    grad_face[3 * k + 1] = lane_sum<W>(gy[k]);
    grad_face[3 * k + 2] = 0.0f;
  }
}

// Entry points: one copy per width, the wide one compiled for AVX2 and used where the CPU
// has it.
template <int kAlphaMode>
void silhouette_row_narrow(const FaceSetup<float>& f, const SoftKernelParams<float>& p, const float* xs, float py,
                           int c0, int c1, float* state) {
  silhouette_row_lanes<4, kAlphaMode>(f, p, xs, py, c0, c1, state);
}
template <int kAlphaMode>
void silhouette_backward_narrow(const float* face, const SoftKernelParams<float>& p, const float* xs,
                                const float* scaled, int stride, float* grad_face) {
  silhouette_backward_face_lanes<4, kAlphaMode>(face, p, xs, scaled, stride, grad_face);
}
#if defined(__x86_64__)
template <int kAlphaMode>
__attribute__((target("avx2"))) void silhouette_row_wide(const FaceSetup<float>& f, const SoftKernelParams<float>& p,
                                                         const float* xs, float py, int c0, int c1, float* state) {
  silhouette_row_lanes<8, kAlphaMode>(f, p, xs, py, c0, c1, state);
}
template <int kAlphaMode>
__attribute__((target("avx2"))) void silhouette_backward_wide(const float* face, const SoftKernelParams<float>& p,
                                                              const float* xs, const float* scaled, int stride,
                                                              float* grad_face) {
  silhouette_backward_face_lanes<8, kAlphaMode>(face, p, xs, scaled, stride, grad_face);
}
// RENDERERS_NO_AVX2=1 forces the 4-lane path (tests use it to cover both widths).
bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2") && std::getenv("RENDERERS_NO_AVX2") == nullptr;
  return has;
}
#else
bool cpu_has_avx2() { return false; }
template <int kAlphaMode>
void silhouette_row_wide(const FaceSetup<float>& f, const SoftKernelParams<float>& p, const float* xs, float py,
                         int c0, int c1, float* state) {
  silhouette_row_narrow<kAlphaMode>(f, p, xs, py, c0, c1, state);
}
template <int kAlphaMode>
void silhouette_backward_wide(const float* face, const SoftKernelParams<float>& p, const float* xs,
                              const float* scaled, int stride, float* grad_face) {
  silhouette_backward_narrow<kAlphaMode>(face, p, xs, scaled, stride, grad_face);
}
#endif

template <int kAlphaMode>
void silhouette_row(const FaceSetup<float>& f, const SoftKernelParams<float>& p, const float* xs, float py, int c0,
                    int c1, float* state) {
  if (cpu_has_avx2())
    silhouette_row_wide<kAlphaMode>(f, p, xs, py, c0, c1, state);
  else
    silhouette_row_narrow<kAlphaMode>(f, p, xs, py, c0, c1, state);
}
template <int kAlphaMode>
void silhouette_backward(const float* face, const SoftKernelParams<float>& p, const float* xs, const float* scaled,
                         int stride, float* grad_face) {
  if (cpu_has_avx2())
    silhouette_backward_wide<kAlphaMode>(face, p, xs, scaled, stride, grad_face);
  else
    silhouette_backward_narrow<kAlphaMode>(face, p, xs, scaled, stride, grad_face);
}
#endif

constexpr int kPadding = 8;  // lanes a vectorized row may read or write past its last pixel

template <typename T>
bool use_lanes(const SoftKernelParams<T>& p) {
#ifdef RENDERERS_VECTOR_PATH
  return std::is_same_v<T, float> && p.aggr_rgb == kRgbNone && p.dist_func == kEuclidean;
#else
  return false;
#endif
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

  std::vector<FaceSetup<T>> setups(size_t(batch) * num_faces);
  at::parallel_for(0, batch * num_faces, 2048, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) setups[i] = setup_face(faces_ptr + 9 * i, p);
  });

  // Enough bands to keep every thread busy when the batch is small.
  const int64_t threads = at::get_num_threads();
  const int bands = int(std::clamp<int64_t>((4 * threads + batch - 1) / batch, 1, size));
  const int rows_per_band = (size + bands - 1) / bands;
  const int64_t plane = int64_t(size) * size;
  const bool lanes = use_lanes(p);
  std::vector<T> xs(size + kPadding);  // pixel-centre x of every column (and of padding lanes)
  for (int c = 0; c < size + kPadding; ++c) xs[c] = pixel_x<T>(c, size);
  const int stride = size + kPadding;  // padded rows of the vectorized path

  at::parallel_for(0, batch * bands, 1, [&](int64_t begin, int64_t end) {
    std::vector<PixelAccumulator<T>> acc(lanes ? 0 : size_t(rows_per_band) * size);
    std::vector<T> state(lanes ? size_t(rows_per_band) * stride : 0);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / bands;
      const int row_begin = int(item % bands) * rows_per_band;
      const int row_end = std::min(size, row_begin + rows_per_band);
      if (row_begin >= row_end) continue;
      if (lanes) std::fill(state.begin(), state.end(), alpha_initial<T>(p.aggr_alpha));
      for (int i = 0; i < (row_end - row_begin) * size && !lanes; ++i) init_pixel(acc[i], p);
      const FaceSetup<T>* image_setups = setups.data() + b * num_faces;
      const T* image_textures = textures_ptr ? textures_ptr + b * num_faces * texture_size * 3 : nullptr;
      for (int f = 0; f < num_faces; ++f) {
        const FaceSetup<T>& face = image_setups[f];
        if (!face.visible) continue;
        int r0, r1, c0, c1;
        exact_span(face.ymin, face.ymax, size, true, r0, r1);
        r0 = std::max(r0, row_begin);
        r1 = std::min(r1, row_end - 1);
        if (r0 > r1) continue;
        exact_span(face.xmin, face.xmax, size, false, c0, c1);
#ifdef RENDERERS_VECTOR_PATH
        if constexpr (std::is_same_v<T, float>) {
          if (lanes) {
            for (int r = r0; r <= r1; ++r) {
              float* row_state = state.data() + (r - row_begin) * stride;
              const float py = pixel_y<float>(r, size);
              if (p.aggr_alpha == kAlphaProd)
                silhouette_row<kAlphaProd>(face, p, xs.data(), py, c0, c1, row_state);
              else if (p.aggr_alpha == kAlphaSum)
                silhouette_row<kAlphaSum>(face, p, xs.data(), py, c0, c1, row_state);
              else
                silhouette_row<kAlphaHard>(face, p, xs.data(), py, c0, c1, row_state);
            }
            continue;
          }
        }
#endif
        const T* face_texture = image_textures ? image_textures + f * texture_size * 3 : nullptr;
        for (int r = r0; r <= r1; ++r) {
          const T py = pixel_y<T>(r, size);
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
      for (int r = row_begin; r < row_end; ++r) {
        for (int c = 0; c < size; ++c) {
          if (lanes) {
            const int64_t pix = int64_t(r) * size + c;
            alpha_finalize(state[(r - row_begin) * stride + c], p, image_b[3 * plane + pix], aux_b[pix]);
          } else {
            write_pixel(acc[(r - row_begin) * size + c], p, r, c, image_b, aux_b);
          }
        }
      }
    }
  });
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
    // The per-pixel factor every face shares, computed once, in rows padded with zeros.
    const int size = p.size, stride = size + kPadding;
    const int64_t image_stride = int64_t(size) * stride;
    std::vector<T> scaled(size_t(batch) * image_stride + kPadding, T(0));
    at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b)
        for (int64_t r = 0; r < size; ++r)
          for (int64_t c = 0; c < size; ++c)
            scaled[b * image_stride + r * stride + c] = alpha_gradient_scale(
                grad_image_ptr[(b * 4 + 3) * plane + r * size + c], aux_ptr[b * 3 * plane + r * size + c], p);
    });
    std::vector<T> xs(size + kPadding);
    for (int c = 0; c < size + kPadding; ++c) xs[c] = pixel_x<T>(c, size);
    const bool lanes = use_lanes(p);
    at::parallel_for(0, batch * num_faces, 64, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const T* image_scaled = scaled.data() + (i / num_faces) * image_stride;
#ifdef RENDERERS_VECTOR_PATH
        if constexpr (std::is_same_v<T, float>) {
          if (lanes) {
            if (p.aggr_alpha == kAlphaProd)
              silhouette_backward<kAlphaProd>(faces_ptr + 9 * i, p, xs.data(), image_scaled, stride,
                                                         grad_faces_ptr + 9 * i);
            else
              silhouette_backward<kAlphaSum>(faces_ptr + 9 * i, p, xs.data(), image_scaled, stride,
                                                        grad_faces_ptr + 9 * i);
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
