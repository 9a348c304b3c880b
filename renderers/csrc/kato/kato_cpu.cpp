// Kato et al.'s approximate rasterization gradient (the Neural 3D Mesh Renderer's backward) on
// the CPU: all cores through at::parallel_for, deterministic.
//
// Image by image, the pixels' (I, dL/dI) values are first copied in scan order for both axes
// (rows and columns become contiguous), then the work items are the image's faces. A face
// computes its own gradient (Kato's edge scans, its own pixels' colour and texture gradient)
// and writes only its own outputs, so there are no atomics and no shared sums: the result is
// bit-identical across runs and thread counts.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kato.h"
#include "kato_kernel.h"

namespace renderers {
namespace {

// What the edge scans of one image read, in scan order (HardMaps::packed and, for silhouettes,
// HardMaps::negative_*), for both axes.
template <typename T>
struct ScanBuffers {
  std::vector<T> packed;
  std::vector<int32_t> count, position;
  std::vector<T> value;
  std::vector<uint8_t> shown;

  ScanBuffers(int size, int first_channel, int num_faces) : shown(size_t(num_faces)) {
    const int64_t plane = int64_t(size) * size;
    packed.resize(size_t(2 * plane * packed_width(first_channel)));
    if (first_channel == 3) {
      count.resize(size_t(2) * size);
      position.resize(size_t(2 * plane));
      value.resize(size_t(2 * plane));
    }
  }

  // Fills lines [j_begin, j_end) of both axes from one image's planes.
  void fill(const T* image, const T* grad, int size, int first_channel, int j_begin, int j_end) {
    const int64_t plane = int64_t(size) * size;
    const int width = packed_width(first_channel);
    const bool lists = first_channel == 3;
    for (int axis = 0; axis < 2; ++axis) {
      for (int j = j_begin; j < j_end; ++j) {
        T* out = packed.data() + (axis * plane + int64_t(j) * size) * width;
        int32_t n = 0;
        const int64_t line = axis * plane + int64_t(j) * size;
        for (int i = 0; i < size; ++i) {
          const int64_t pix = axis_pixel(axis, i, j, size);
          for (int ch = first_channel; ch < 4; ++ch) {
            *out++ = image[ch * plane + pix];
            *out++ = grad[ch * plane + pix];
          }
          if (lists) {
            const T g = (T(1) - image[3 * plane + pix]) * grad[3 * plane + pix];  // as loss_change computes it
            if (g < T(0)) {
              position[line + n] = i;
              value[line + n] = g;
              ++n;
            }
          }
        }
        if (lists) count[axis * size + j] = n;
      }
    }
  }

  // Marks the faces that show at some pixel of face_index (S x S).
  void mark_shown(const int32_t* face_index, int size) {
    std::fill(shown.begin(), shown.end(), uint8_t(0));
    const int64_t plane = int64_t(size) * size;
    const int64_t num_faces = int64_t(shown.size());
    for (int64_t pix = 0; pix < plane; ++pix)  // ids outside [0, F) (a caller's bad buffer) are never addressed
      if (face_index[pix] >= 0 && face_index[pix] < num_faces) shown[face_index[pix]] = 1;
  }

  HardMaps<T> maps(const T* image, const T* grad, const int32_t* face_index, int size, int first_channel) const {
    const int64_t plane = int64_t(size) * size;
    const int64_t half = plane * packed_width(first_channel);
    HardMaps<T> m{image, grad, face_index, plane, size, first_channel, {packed.data(), packed.data() + half},
                  {nullptr, nullptr}, {nullptr, nullptr}, {nullptr, nullptr}, shown.data()};
    if (first_channel == 3) {
      for (int axis = 0; axis < 2; ++axis) {
        m.negative_count[axis] = count.data() + axis * size;
        m.negative_position[axis] = position.data() + axis * plane;
        m.negative_value[axis] = value.data() + axis * plane;
      }
    }
    return m;
  }
};

template <typename T>
void backward_impl(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                   const at::Tensor& face_index, const at::Tensor& grad_image, const RasterizeParams& params,
                   at::Tensor& grad_face_vertices, at::Tensor& grad_textures) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  const int texture_size = rasterize_texture_size(textures);
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
  const int size = p.size;
  const int first_channel = p.texture_type == kNmrNoTexture ? 3 : 0;

  auto faces_of = [&](int64_t b, const HardMaps<T>& maps, int64_t begin, int64_t end) {
    for (int64_t f = begin; f < end; ++f) {
      const int64_t i = b * num_faces + f;
      hard_backward_face(faces_ptr + 9 * i, textures_ptr ? textures_ptr + i * block : nullptr, p, maps, int(f),
                         grad_faces_ptr + 9 * i, grad_textures_ptr ? grad_textures_ptr + i * block : nullptr);
    }
  };
  if (batch >= at::get_num_threads()) {
    // Enough images for every thread: each prepares and processes whole images.
    at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
      ScanBuffers<T> scans(size, first_channel, num_faces);
      for (int64_t b = begin; b < end; ++b) {
        const T *image_b = image_ptr + b * 4 * plane, *grad_b = grad_image_ptr + b * 4 * plane;
        scans.fill(image_b, grad_b, size, first_channel, 0, size);
        scans.mark_shown(index_ptr + b * plane, size);
        faces_of(b, scans.maps(image_b, grad_b, index_ptr + b * plane, size, first_channel), 0, num_faces);
      }
    });
    return;
  }
  // Few images: the threads share each image's preparation and faces.
  ScanBuffers<T> scans(size, first_channel, num_faces);
  for (int64_t b = 0; b < batch; ++b) {
    const T *image_b = image_ptr + b * 4 * plane, *grad_b = grad_image_ptr + b * 4 * plane;
    at::parallel_for(0, size, 16, [&](int64_t begin, int64_t end) {
      scans.fill(image_b, grad_b, size, first_channel, int(begin), int(end));
    });
    scans.mark_shown(index_ptr + b * plane, size);
    const HardMaps<T> maps = scans.maps(image_b, grad_b, index_ptr + b * plane, size, first_channel);
    at::parallel_for(0, num_faces, 16, [&](int64_t begin, int64_t end) { faces_of(b, maps, begin, end); });
  }
}

}  // namespace

void kato_backward_cpu(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                       const at::Tensor& face_index, const at::Tensor& grad_image, const RasterizeParams& params,
                       at::Tensor& grad_face_vertices, at::Tensor& grad_textures) {
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "kato_backward_cpu", [&] {
    backward_impl<scalar_t>(face_vertices, textures, image, face_index, grad_image, params, grad_face_vertices,
                            grad_textures);
  });
}

}  // namespace renderers
