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
        pixel_span(double(face.ymin), double(face.ymax), size, true, r0, r1);
        r0 = std::max(r0, row_begin);
        r1 = std::min(r1, row_end - 1);
        if (r0 > r1) continue;
        pixel_span(double(face.xmin), double(face.xmax), size, false, c0, c1);
        const T* face_texture = image_textures ? image_textures + f * texture_size * 3 : nullptr;
        for (int r = r0; r <= r1; ++r) {
          const T py = pixel_y<T>(r, size);
          PixelAccumulator<T>* row_acc = acc.data() + (r - row_begin) * size;
          for (int c = c0; c <= c1; ++c) {
            Coverage<T> cov;
            if (!evaluate_coverage(face, p, pixel_x<T>(c, size), py, cov)) continue;
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
