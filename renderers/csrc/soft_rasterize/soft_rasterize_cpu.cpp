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
#include <vector>

#include "soft_rasterize.h"
#include "soft_rasterize_kernel.h"

namespace renderers {
namespace {

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
  const bool silhouette_only = p.aggr_rgb == kRgbNone;
  std::vector<T> xs(size);  // pixel-centre x of every column
  for (int c = 0; c < size; ++c) xs[c] = pixel_x<T>(c, size);

  at::parallel_for(0, batch * bands, 1, [&](int64_t begin, int64_t end) {
    std::vector<PixelAccumulator<T>> acc(size_t(rows_per_band) * size);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / bands;
      const int row_begin = int(item % bands) * rows_per_band;
      const int row_end = std::min(size, row_begin + rows_per_band);
      if (row_begin >= row_end) continue;
      for (int i = 0; i < (row_end - row_begin) * size; ++i) init_pixel(acc[i], p);
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
      for (int r = row_begin; r < row_end; ++r)
        for (int c = 0; c < size; ++c) write_pixel(acc[(r - row_begin) * size + c], p, r, c, image_b, aux_b);
    }
  });
}

// Backward of one face for silhouette-only rendering: dL/dx_j = scaled(p) * D_j
// [* (1 - D_j) for "sum"], scaled = dL/dA * (prod_k (1 - D_k) or 1 / F) per pixel.
template <typename T>
void silhouette_backward_face(const T* face, const SoftKernelParams<T>& p, const T* xs, const T* scaled,
                              T* grad_face) {
  const FaceSetup<T> f = setup_face(face, p);
  T gx[3] = {T(0), T(0), T(0)}, gy[3] = {T(0), T(0), T(0)};
  if (f.visible) {
    const int size = p.size;
    int r0, r1, c0, c1;
    exact_span(f.ymin, f.ymax, size, true, r0, r1);
    exact_span(f.xmin, f.xmax, size, false, c0, c1);
    for (int r = r0; r <= r1; ++r) {
      const T py = pixel_y<T>(r, size);
      const T* row = scaled + int64_t(r) * size;
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
    // The per-pixel factor every face shares, computed once.
    std::vector<T> scaled(size_t(batch) * plane);
    at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b)
        for (int64_t pix = 0; pix < plane; ++pix)
          scaled[b * plane + pix] =
              alpha_gradient_scale(grad_image_ptr[(b * 4 + 3) * plane + pix], aux_ptr[b * 3 * plane + pix], p);
    });
    std::vector<T> xs(p.size);
    for (int c = 0; c < p.size; ++c) xs[c] = pixel_x<T>(c, p.size);
    at::parallel_for(0, batch * num_faces, 64, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        silhouette_backward_face(faces_ptr + 9 * i, p, xs.data(), scaled.data() + (i / num_faces) * plane,
                                 grad_faces_ptr + 9 * i);
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
