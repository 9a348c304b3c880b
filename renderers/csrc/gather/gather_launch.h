// Face gathers: the CUDA launch sequences, written once over a launcher (common/launch.h), run
// by the CUDA launcher (gather_cuda.cu) and, for tests without a GPU, serially on CPU tensors
// (emulate_cuda). Forward: one thread per face corner. Backward: one thread per vertex, summing
// the gradients of the corners that use it, listed by a vertex-to-corner incidence table
// (vertex_corner_incidence) in ascending corner order: the CPU backward's order of additions,
// so the two are equal bit for bit, and no atomics (deterministic on the GPU).
#pragma once

#include <ATen/ATen.h>

#include "../common/launch.h"
#include "gather.h"

namespace renderers {

// faces (1 | B', F, 3) int64 -> (offsets (B'V + 1), corners (3 B' F)) int64: the corners (indices
// in [0, 3F) within their face list) of vertex v of face list b are corners[offsets[b V + v] ..
// offsets[b V + v + 1]), ascending. Computed with tensor ops on the faces' device.
inline std::pair<at::Tensor, at::Tensor> vertex_corner_incidence(const at::Tensor& faces, int64_t num_vertices) {
  const int64_t lists = faces.size(0), per_list = 3 * faces.size(1);
  const at::Tensor list_of = at::arange(lists, faces.options()).repeat_interleave(per_list);
  const at::Tensor keys = faces.reshape({-1}) + list_of * num_vertices;
  const at::Tensor order = std::get<1>(at::sort(keys, /*stable=*/true, /*dim=*/0, /*descending=*/false));
  const at::Tensor counts = at::bincount(keys, /*weights=*/{}, lists * num_vertices);
  const at::Tensor offsets = at::cat({at::zeros({1}, faces.options()), at::cumsum(counts, 0)});
  return {offsets.contiguous(), at::remainder(order, per_list).contiguous()};
}

template <typename T>
struct GatherForwardKernel {
  const T* values;  // (B, V, C)
  const int64_t* faces;
  T* output;        // (B, F, 3, C)
  int64_t face_batch_stride, num_faces, num_vertices, channels;
  T scale;
  HOST_DEVICE void operator()(int64_t i) const {  // i = (b, f, k)
    const int64_t b = i / (3 * num_faces), corner = i % (3 * num_faces);
    const int64_t v = faces[b * face_batch_stride + corner];
    gather_corner(values + (b * num_vertices + v) * channels, channels, scale, output + i * channels);
  }
};

template <typename T>
struct GatherBackwardVertexKernel {
  const T* values;       // (B, V, C)
  const T* grad_output;  // (B, F, 3, C)
  const int64_t* offsets;
  const int64_t* corners;
  T* grad_values;        // (B, V, C), zeros on entry; thread (b, v) writes row (b, v) only
  bool shared_faces;     // one face list for the batch (its incidence is used by every image)
  int64_t num_faces, num_vertices, channels;
  T scale;
  HOST_DEVICE void operator()(int64_t i) const {  // i = (b, v)
    const int64_t b = i / num_vertices, v = i % num_vertices;
    const int64_t key = shared_faces ? v : i;
    const T* vertex = values + i * channels;
    T* grad_vertex = grad_values + i * channels;
    const T* image_grad = grad_output + b * 3 * num_faces * channels;
    for (int64_t j = offsets[key]; j < offsets[key + 1]; ++j)
      gather_corner_backward(vertex, channels, scale, image_grad + corners[j] * channels, grad_vertex);
  }
};

template <class Launcher>
void gather_faces_forward_launch(const Launcher& launch, const at::Tensor& values, const at::Tensor& faces,
                                 int64_t face_batch_stride, double scale, at::Tensor& output) {
  AT_DISPATCH_FLOATING_TYPES(values.scalar_type(), "gather_faces_forward_launch", [&] {
    launch(values.size(0) * faces.size(1) * 3,
           GatherForwardKernel<scalar_t>{values.data_ptr<scalar_t>(), faces.data_ptr<int64_t>(),
                                         output.data_ptr<scalar_t>(), face_batch_stride, faces.size(1),
                                         values.size(1), values.size(2), scalar_t(scale)});
  });
}

template <class Launcher>
void gather_faces_backward_launch(const Launcher& launch, const at::Tensor& values, const at::Tensor& faces,
                                  int64_t face_batch_stride, const at::Tensor& grad_output, double scale,
                                  at::Tensor& grad_values) {
  const auto [offsets, corners] = vertex_corner_incidence(faces, values.size(1));
  AT_DISPATCH_FLOATING_TYPES(values.scalar_type(), "gather_faces_backward_launch", [&] {
    launch(values.size(0) * values.size(1),
           GatherBackwardVertexKernel<scalar_t>{values.data_ptr<scalar_t>(), grad_output.data_ptr<scalar_t>(),
                                                offsets.data_ptr<int64_t>(), corners.data_ptr<int64_t>(),
                                                grad_values.data_ptr<scalar_t>(), face_batch_stride == 0,
                                                faces.size(1), values.size(1), values.size(2), scalar_t(scale)});
  });
}

}  // namespace renderers
