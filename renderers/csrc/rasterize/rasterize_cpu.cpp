// Hard rasterization on the CPU: all cores through at::parallel_for, deterministic.
//
// Forward: work items are (image, band of rows). Within a band the faces are z-buffered in
// index order over the pixels of their bounding boxes, then each pixel is shaded once.
// Backward: work items are (image, face). A face computes its own gradient (Kato's edge
// scans, its own pixels' colour and texture gradient) and writes only its own outputs, so
// there are no atomics and no shared sums: the result is bit-identical across runs and
// thread counts.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "rasterize.h"
#include "rasterize_kernel.h"

namespace renderers {
namespace {

int texture_size_of(const at::Tensor& textures) {
  return textures.defined() && textures.dim() == 4 ? int(textures.size(2)) : 0;
}

template <typename T>
void forward_impl(const at::Tensor& face_vertices, const at::Tensor& textures, const RasterizeParams& params,
                  at::Tensor& image, at::Tensor& face_index, at::Tensor& weights, at::Tensor& depth) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  const int texture_size = texture_size_of(textures);
  const HardKernelParams<T> p = make_hard_params<T>(params, num_faces, texture_size);
  const int size = p.size;
  const int64_t plane = int64_t(size) * size;
  const T* faces_ptr = face_vertices.data_ptr<T>();
  const T* textures_ptr = texture_size > 0 ? textures.data_ptr<T>() : nullptr;
  T* image_ptr = image.data_ptr<T>();
  int32_t* index_ptr = face_index.data_ptr<int32_t>();
  T* weights_ptr = weights.data_ptr<T>();
  T* depth_ptr = depth.data_ptr<T>();

  std::vector<HardFace<T>> setups(size_t(batch) * num_faces);
  at::parallel_for(0, batch * num_faces, 2048, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) setups[i] = setup_hard_face(faces_ptr + 9 * i, p);
  });
  std::vector<T> xs(size);
  for (int c = 0; c < size; ++c) xs[c] = pixel_x<T>(c, size);

  const int64_t threads = at::get_num_threads();
  const int bands = int(std::clamp<int64_t>((4 * threads + batch - 1) / batch, 1, size));
  const int rows_per_band = (size + bands - 1) / bands;
  at::parallel_for(0, batch * bands, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> zbuf(size_t(rows_per_band) * size);
    std::vector<int> best(size_t(rows_per_band) * size);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / bands;
      const int row_begin = int(item % bands) * rows_per_band;
      const int row_end = std::min(size, row_begin + rows_per_band);
      if (row_begin >= row_end) continue;
      std::fill(best.begin(), best.end(), -1);
      const HardFace<T>* image_faces = setups.data() + b * num_faces;
      for (int fi = 0; fi < num_faces; ++fi) {
        const HardFace<T>& f = image_faces[fi];
        if (!f.drawable) continue;
        int r0, r1, c0, c1;
        exact_span(f.ymin, f.ymax, size, true, r0, r1);
        r0 = std::max(r0, row_begin);
        r1 = std::min(r1, row_end - 1);
        if (r0 > r1) continue;
        exact_span(f.xmin, f.xmax, size, false, c0, c1);
        for (int r = r0; r <= r1; ++r) {
          const T py = pixel_y<T>(r, size);
          const int64_t offset = int64_t(r - row_begin) * size;
          for (int c = c0; c <= c1; ++c) {
            T z;
            if (!hard_depth_at(f, p, xs[c], py, z)) continue;
            int& winner = best[offset + c];
            if (winner < 0 || z < zbuf[offset + c]) {
              winner = fi;
              zbuf[offset + c] = z;
            }
          }
        }
      }
      const T* image_textures = textures_ptr ? textures_ptr + b * num_faces * texture_size * 3 : nullptr;
      for (int r = row_begin; r < row_end; ++r)
        for (int c = 0; c < size; ++c)
          write_hard_pixel(image_faces, image_textures, p, r, c, best[int64_t(r - row_begin) * size + c],
                           image_ptr + b * 4 * plane, index_ptr + b * plane, weights_ptr + b * 3 * plane,
                           depth_ptr + b * plane);
    }
  });
}

template <typename T>
void backward_impl(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                   const at::Tensor& face_index, const at::Tensor& grad_image, const RasterizeParams& params,
                   at::Tensor& grad_face_vertices, at::Tensor& grad_textures) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  const int texture_size = texture_size_of(textures);
  const HardKernelParams<T> p = make_hard_params<T>(params, num_faces, texture_size);
  const int64_t plane = int64_t(p.size) * p.size;
  const T* faces_ptr = face_vertices.data_ptr<T>();
  const T* textures_ptr = texture_size > 0 ? textures.data_ptr<T>() : nullptr;
  const T* image_ptr = image.data_ptr<T>();
  const int32_t* index_ptr = face_index.data_ptr<int32_t>();
  const T* grad_image_ptr = grad_image.data_ptr<T>();
  T* grad_faces_ptr = grad_face_vertices.data_ptr<T>();
  T* grad_textures_ptr = texture_size > 0 ? grad_textures.data_ptr<T>() : nullptr;
  const int64_t block = int64_t(texture_size) * 3;

  at::parallel_for(0, batch * num_faces, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / num_faces;
      const HardMaps<T> maps{image_ptr + b * 4 * plane, grad_image_ptr + b * 4 * plane, index_ptr + b * plane,
                             plane, p.size, p.texture_type == kNmrNoTexture ? 3 : 0};
      hard_backward_face(faces_ptr + 9 * i, textures_ptr ? textures_ptr + i * block : nullptr, p, maps,
                         int(i % num_faces), grad_faces_ptr + 9 * i,
                         grad_textures_ptr ? grad_textures_ptr + i * block : nullptr);
    }
  });
}

}  // namespace

void rasterize_forward_cpu(const at::Tensor& face_vertices, const at::Tensor& textures,
                           const RasterizeParams& params, at::Tensor& image, at::Tensor& face_index,
                           at::Tensor& weights, at::Tensor& depth) {
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "rasterize_forward_cpu", [&] {
    forward_impl<scalar_t>(face_vertices, textures, params, image, face_index, weights, depth);
  });
}

void rasterize_backward_cpu(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                            const at::Tensor& face_index, const at::Tensor& grad_image,
                            const RasterizeParams& params, at::Tensor& grad_face_vertices,
                            at::Tensor& grad_textures) {
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "rasterize_backward_cpu", [&] {
    backward_impl<scalar_t>(face_vertices, textures, image, face_index, grad_image, params, grad_face_vertices,
                            grad_textures);
  });
}

}  // namespace renderers
