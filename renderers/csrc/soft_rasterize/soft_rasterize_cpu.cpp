// SoftRas on the CPU: all cores through at::parallel_for, deterministic (every pixel and
// every face is computed by one thread in a fixed order, whatever the thread count).
//
// Forward: work items are (image, band of rows). Within a band the faces are visited in
// index order and each face touches only the pixels of its grown bounding box, so the
// cost grows with covered pixels x nearby faces, not with pixels x faces.
// Backward: work items are (image, face). A face gathers its own gradient over its
// bounding box; nothing is shared between items, so no atomics and no reductions.
//
// Silhouette-only rendering (the training configuration, aggr_rgb none) runs the lane-generic
// math of soft_rasterize_kernel.h over blocks of pixels: a pack of 4, 8 or 16 float lanes
// (common/lanes.h; the width is chosen at run time, common/cpu_lanes.h) or one scalar (double,
// or width 1). Colour rendering runs the same math with scalars, through the per-pixel
// accumulator that the CUDA kernels use too.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../common/cpu_lanes.h"
#include "../common/lanes.h"
#include "soft_rasterize.h"
#include "soft_rasterize_kernel.h"
#include "soft_rasterize_silhouette.h"

namespace renderers {
namespace {

constexpr int kPadding = 16;  // columns a block may read or write past a row's last pixel
constexpr int kRowPadding = 4;  // rows a block may read or write past the last row

// Pixel-centre tables of an S x S image, padded: xs[c] = pixel_x(c), ys[r] = pixel_y(r) for
// c, r < S + kPadding (exact_span reads them instead of dividing).
template <typename T>
std::vector<T> centre_table(int size, bool rows) {
  std::vector<T> centres(size + kPadding);
  for (int i = 0; i < size + kPadding; ++i) centres[i] = rows ? pixel_y<T>(i, size) : pixel_x<T>(i, size);
  return centres;
}

}  // namespace

// Declared in soft_rasterize_silhouette.h: compiled here, without fused multiply-adds, and never
// inlined into the lane variants.
__attribute__((noinline)) FaceSetup<float> face_setup(const float* face, const SoftKernelParams<float>& p) {
  return setup_face(face, p);
}
__attribute__((noinline)) FaceSetup<double> face_setup(const double* face, const SoftKernelParams<double>& p) {
  return setup_face(face, p);
}

namespace {

RENDERERS_SILHOUETTE_ENTRIES(scalar_double, double, double)
RENDERERS_SILHOUETTE_ENTRIES(scalar_float, float, float)

#ifdef RENDERERS_HAVE_PACKS
// 4 lanes: SSE2 (the x86-64 baseline) or the CPU's 128-bit vectors.
using Lanes4 = FloatPack<4, 1>;
RENDERERS_SILHOUETTE_ENTRIES(lanes4, Lanes4, float)

#if defined(__x86_64__) && !defined(__clang__)
#define RENDERERS_WIDE_LANES 1  // lanes8_kernels, lanes16_kernels: their own units
#endif
#endif

template <typename T>
SilhouetteKernels<T> silhouette_kernels();

template <>
SilhouetteKernels<double> silhouette_kernels<double>() {
  return scalar_double_kernels();
}

// The kernels of the current width (cpu_lane_width).
template <>
SilhouetteKernels<float> silhouette_kernels<float>() {
  switch (cpu_lane_width()) {
#ifdef RENDERERS_HAVE_PACKS
    case 4:
      return lanes4_kernels();
#ifdef RENDERERS_WIDE_LANES
    case 8:
      return lanes8_kernels();
    case 16:
      return lanes16_kernels();
#endif
#endif
    default:
      return scalar_float_kernels();
  }
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

// The silhouette forward (aggr_rgb none): the same work items and face order as forward_impl,
// the alpha states of a band in rows padded for whole blocks.
template <typename T>
void silhouette_forward(const at::Tensor& face_vertices, const SoftRasParams& params, at::Tensor& image,
                        at::Tensor& aux) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  const SoftKernelParams<T> p = make_kernel_params<T>(params, num_faces, 0);
  const int size = p.size, stride = size + kPadding;
  const T* faces_ptr = face_vertices.data_ptr<T>();
  T* image_ptr = image.data_ptr<T>();
  T* aux_ptr = aux.data_ptr<T>();
  const Bands bands = forward_bands(batch, size);
  const int64_t plane = int64_t(size) * size;
  const std::vector<T> xs = centre_table<T>(size, false), ys = centre_table<T>(size, true);
  const auto forward = silhouette_kernels<T>().forward[p.aggr_alpha][p.dist_func];

  at::parallel_for(0, batch * bands.count, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> state(size_t(bands.rows + kRowPadding) * stride);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / bands.count;
      const int row_begin = int(item % bands.count) * bands.rows;
      const int row_end = std::min(size, row_begin + bands.rows);
      if (row_begin >= row_end) continue;
      std::fill(state.begin(), state.end(), alpha_initial<T>(p.aggr_alpha));
      forward({faces_ptr + b * num_faces * 9, xs.data(), ys.data(), p, row_begin, row_end, state.data(), stride});
      T* image_b = image_ptr + b * 4 * plane;
      T* aux_b = aux_ptr + b * 3 * plane;
      const int64_t first = int64_t(row_begin) * size, count = int64_t(row_end - row_begin) * size;
      for (int ch = 0; ch < 3; ++ch) std::fill_n(image_b + ch * plane + first, count, T(0));  // no colour
      for (int ch = 1; ch < 3; ++ch) std::fill_n(aux_b + ch * plane + first, count, T(0));
      for (int r = row_begin; r < row_end; ++r) {
        const T* row_state = state.data() + int64_t(r - row_begin) * stride;
        T* alpha = image_b + 3 * plane + int64_t(r) * size;
        T* extra = aux_b + int64_t(r) * size;
        for (int c = 0; c < size; ++c) alpha_finalize(row_state[c], p, alpha[c], extra[c]);
      }
    }
  });
}

// The per-pixel factor every face's silhouette backward shares, dL/dA times prod_k (1 - D_k)
// ("prod") or 1 / F ("sum") (alpha_gradient_scale), as (B, S + kRowPadding, S + kPadding):
// rows and columns padded with zeros for whole blocks.
template <typename T>
std::vector<T> alpha_scales(const T* grad_image, const T* aux, int64_t batch, const SoftKernelParams<T>& p) {
  const int size = p.size, stride = size + kPadding;
  const int64_t plane = int64_t(size) * size, image_stride = int64_t(size + kRowPadding) * stride;
  std::vector<T> scaled(size_t(batch * image_stride), T(0));
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
    const int64_t image_stride = int64_t(size + kRowPadding) * stride;
    const std::vector<T> scaled = alpha_scales(grad_image_ptr, aux_ptr, batch, p);
    const std::vector<T> xs = centre_table<T>(size, false), ys = centre_table<T>(size, true);
    const auto backward = silhouette_kernels<T>().backward[p.aggr_alpha][p.dist_func];
    at::parallel_for(0, batch * num_faces, 64, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        backward({faces_ptr + 9 * i, xs.data(), ys.data(), scaled.data() + (i / num_faces) * image_stride, stride, p,
                  grad_faces_ptr + 9 * i});
    });
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
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "soft_rasterize_forward_cpu", [&] {
    if (params.aggr_rgb == kRgbNone)
      silhouette_forward<scalar_t>(face_vertices, params, image, aux);
    else
      forward_impl<scalar_t>(face_vertices, textures, params, image, aux);
  });
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
