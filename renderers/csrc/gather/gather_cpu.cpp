// Face gathers on the CPU. Forward: all cores over (image, face). Backward: all cores over
// images; within an image the faces are visited in order, so every vertex sums its corners
// in the same order whatever the thread count (deterministic, no atomics).
#include <ATen/Parallel.h>

#include "gather.h"

namespace renderers {
namespace {

template <typename T>
void forward_impl(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride, double scale_in,
                  at::Tensor& output) {
  const int64_t batch = values.size(0), num_vertices = values.size(1), channels = values.size(2);
  const int64_t num_faces = faces.size(1);
  const T scale = T(scale_in);
  const T* values_ptr = values.data_ptr<T>();
  const int64_t* faces_ptr = faces.data_ptr<int64_t>();
  T* out = output.data_ptr<T>();
  at::parallel_for(0, batch * num_faces, 2048, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / num_faces, f = i % num_faces;
      const int64_t* corners = faces_ptr + b * face_batch_stride + 3 * f;
      const T* image_values = values_ptr + b * num_vertices * channels;
      for (int k = 0; k < 3; ++k)
        gather_corner(image_values + corners[k] * channels, channels, scale, out + (3 * i + k) * channels);
    }
  });
}

template <typename T>
void backward_impl(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride,
                   const at::Tensor& grad_output, double scale_in, at::Tensor& grad_values) {
  const int64_t batch = values.size(0), num_vertices = values.size(1), channels = values.size(2);
  const int64_t num_faces = faces.size(1);
  const T scale = T(scale_in);
  const T* values_ptr = values.data_ptr<T>();
  const int64_t* faces_ptr = faces.data_ptr<int64_t>();
  const T* grad_ptr = grad_output.data_ptr<T>();
  T* grad_values_ptr = grad_values.data_ptr<T>();
  at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t* image_faces = faces_ptr + b * face_batch_stride;
      const T* image_values = values_ptr + b * num_vertices * channels;
      T* image_grad = grad_values_ptr + b * num_vertices * channels;
      const T* image_grad_output = grad_ptr + b * num_faces * 3 * channels;
      for (int64_t corner = 0; corner < 3 * num_faces; ++corner) {
        const int64_t v = image_faces[corner];
        gather_corner_backward(image_values + v * channels, channels, scale, image_grad_output + corner * channels,
                               image_grad + v * channels);
      }
    }
  });
}

}  // namespace

void gather_faces_forward_cpu(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride,
                              double scale, at::Tensor& output) {
  AT_DISPATCH_FLOATING_TYPES(values.scalar_type(), "gather_faces_forward_cpu",
                             [&] { forward_impl<scalar_t>(values, faces, face_batch_stride, scale, output); });
}

void gather_faces_backward_cpu(const at::Tensor& values, const at::Tensor& faces, int64_t face_batch_stride,
                               const at::Tensor& grad_output, double scale, at::Tensor& grad_values) {
  AT_DISPATCH_FLOATING_TYPES(values.scalar_type(), "gather_faces_backward_cpu", [&] {
    backward_impl<scalar_t>(values, faces, face_batch_stride, grad_output, scale, grad_values);
  });
}

}  // namespace renderers
