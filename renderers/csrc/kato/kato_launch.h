// Kato's approximate gradient: the CUDA launch sequence, written once over a launcher
// (common/launch.h). One thread per pixel marks the face it shows, then one thread per face
// writes only its own gradient, skipping faces that show nowhere; no atomics, deterministic.
// Run by the CUDA launcher (kato_cuda.cu) and, for tests without a GPU, serially on CPU
// tensors (kato_backward_emulated).
#pragma once

#include <ATen/ATen.h>

#include "../common/launch.h"
#include "kato.h"
#include "kato_kernel.h"

namespace renderers {

template <class Launcher>
void kato_backward_launch(const Launcher& launch, const at::Tensor& face_vertices, const at::Tensor& textures,
                          const at::Tensor& image, const at::Tensor& face_index, const at::Tensor& grad_image,
                          const RasterizeParams& params, at::Tensor& grad_face_vertices, at::Tensor& grad_textures) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  const int texture_size = rasterize_texture_size(textures);
  const int64_t count = batch * num_faces;
  if (count == 0) return;
  const int64_t plane = int64_t(params.image_size) * params.image_size;
  at::Tensor shown = at::zeros({count}, face_vertices.options().dtype(at::kByte));
  launch(batch * plane, MarkShownKernel{face_index.data_ptr<int32_t>(), shown.data_ptr<uint8_t>(), plane, num_faces});
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "kato_backward_launch", [&] {
    const auto p = make_hard_params<scalar_t>(params, num_faces, texture_size);
    launch(count, KatoBackwardFaceKernel<scalar_t>{
                      face_vertices.data_ptr<scalar_t>(), texture_size > 0 ? textures.data_ptr<scalar_t>() : nullptr,
                      image.data_ptr<scalar_t>(), face_index.data_ptr<int32_t>(), shown.data_ptr<uint8_t>(),
                      grad_image.data_ptr<scalar_t>(), grad_face_vertices.data_ptr<scalar_t>(),
                      texture_size > 0 ? grad_textures.data_ptr<scalar_t>() : nullptr, p});
  });
}

}  // namespace renderers
