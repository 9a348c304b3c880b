// SoftRas's CUDA launch sequence, written once as per-thread kernels (common/launch.h) and run
// by the CUDA launcher (soft_rasterize_cuda.cu) or, for tests on machines without a GPU, by the
// serial launcher on CPU tensors (soft_rasterize_forward_emulated / _backward_emulated), so CI
// executes every line the GPU would: setup_face, the tile binning (common/tile_bins.h),
// rasterize_pixel (evaluate_coverage, accumulate_face, write_pixel) and backward_face
// (coverage_in_box, backward_pair).
//   forward:  one thread per face (set-up and its tile rectangle), the faces binned in screen
//             tiles of kSoftTile pixels, then one thread per pixel over its tile's faces in face
//             order (not over every face: pixels x nearby faces, as on the CPU);
//   backward: one thread per face over its own pixels, writing only its own gradient.
// No atomics, no shared memory: deterministic, and the emulation is exact.
#pragma once

#include <ATen/ATen.h>

#include "../common/dispatch.h"
#include "../common/launch.h"
#include "../common/tile_bins_launch.h"
#include "soft_rasterize_kernel.h"

namespace renderers {

constexpr int kSoftTile = 8;  // pixels a side of the CUDA forward's screen tiles

template <typename T>
struct SoftSetupKernel {
  const T* faces;  // (B*F, 9)
  FaceSetup<T>* setups;
  TileRect* rects;
  SoftKernelParams<T> p;
  HOST_DEVICE void operator()(int64_t i) const {
    setups[i] = setup_face(faces + 9 * i, p);
    rects[i] = soft_face_tiles(setups[i], p.size, kSoftTile);
  }
};

template <typename T>
struct SoftForwardPixelKernel {
  const FaceSetup<T>* setups;   // (B, F)
  const int32_t* tile_faces;    // common/tile_bins.h
  const int64_t* tile_offsets;
  int tiles;                    // per side
  const T* textures;            // (B, F, T, 3) or null
  T* image;                     // (B, 4, S, S)
  T* aux;                       // (B, 3, S, S)
  SoftKernelParams<T> p;
  HOST_DEVICE void operator()(int64_t i) const {
    const int64_t plane = int64_t(p.size) * p.size;
    const int64_t b = i / plane;
    const int pix = int(i % plane), row = pix / p.size, col = pix % p.size;
    int64_t begin, end;
    pixel_bin(tile_offsets, tiles, kSoftTile, b, row, col, begin, end);
    const T* image_textures = textures ? textures + b * p.num_faces * p.texture_size * 3 : nullptr;
    rasterize_pixel(setups + b * p.num_faces, tile_faces + begin, end - begin, image_textures, p, row, col,
                    image + b * 4 * plane, aux + b * 3 * plane);
  }
};

template <typename T>
struct SoftBackwardFaceKernel {
  const T* faces;  // (B*F, 9)
  const T* textures;
  const T* image;
  const T* aux;
  const T* grad_image;
  T* grad_faces;
  T* grad_textures;
  SoftKernelParams<T> p;
  HOST_DEVICE void operator()(int64_t i) const {
    const int64_t plane = int64_t(p.size) * p.size;
    const int64_t b = i / p.num_faces;
    const int64_t block = int64_t(p.texture_size) * 3;
    backward_face(faces + 9 * i, textures ? textures + i * block : nullptr, p, int(i % p.num_faces),
                  image + b * 4 * plane, aux + b * 3 * plane, grad_image + b * 4 * plane, grad_faces + 9 * i,
                  grad_textures ? grad_textures + i * block : nullptr);
  }
};

inline int soft_texture_size(const at::Tensor& textures) {
  return textures.defined() && textures.dim() == 4 ? int(textures.size(2)) : 0;
}

// image and aux must be zero-filled: pixels no face reaches keep the values the kernels leave.
template <class Launcher>
void soft_rasterize_forward_launch(const Launcher& launch, const at::Tensor& face_vertices, const at::Tensor& textures,
                                   const SoftRasParams& params, at::Tensor& image, at::Tensor& aux) {
  const int64_t batch = face_vertices.size(0);
  const int num_faces = int(face_vertices.size(1));
  const int texture_size = soft_texture_size(textures);
  const int64_t count = batch * num_faces;
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "soft_rasterize_forward_launch", [&] {
    const auto p = make_kernel_params<scalar_t>(params, num_faces, texture_size);
    at::Tensor holder, rects_holder;
    auto* setups = scratch_buffer<FaceSetup<scalar_t>>(holder, face_vertices, count);
    auto* rects = scratch_buffer<TileRect>(rects_holder, face_vertices, count);
    launch(count, SoftSetupKernel<scalar_t>{face_vertices.data_ptr<scalar_t>(), setups, rects, p});
    const int tiles = (p.size + kSoftTile - 1) / kSoftTile;
    const TileBins bins = bin_faces_in_tiles(launch, rects, batch, num_faces, tiles, face_vertices);
    launch(batch * int64_t(p.size) * p.size,
           SoftForwardPixelKernel<scalar_t>{setups, bins.faces_ptr(), bins.offsets_ptr(), tiles,
                                            texture_size > 0 ? textures.data_ptr<scalar_t>() : nullptr,
                                            image.data_ptr<scalar_t>(), aux.data_ptr<scalar_t>(), p});
  });
}

template <class Launcher>
void soft_rasterize_backward_launch(const Launcher& launch, const at::Tensor& face_vertices,
                                    const at::Tensor& textures, const at::Tensor& image, const at::Tensor& aux,
                                    const at::Tensor& grad_image, const SoftRasParams& params,
                                    at::Tensor& grad_face_vertices, at::Tensor& grad_textures) {
  const int64_t count = face_vertices.size(0) * face_vertices.size(1);
  const int texture_size = soft_texture_size(textures);
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "soft_rasterize_backward_launch", [&] {
    const auto p = make_kernel_params<scalar_t>(params, int(face_vertices.size(1)), texture_size);
    launch(count, SoftBackwardFaceKernel<scalar_t>{
                      face_vertices.data_ptr<scalar_t>(), texture_size > 0 ? textures.data_ptr<scalar_t>() : nullptr,
                      image.data_ptr<scalar_t>(), aux.data_ptr<scalar_t>(), grad_image.data_ptr<scalar_t>(),
                      grad_face_vertices.data_ptr<scalar_t>(),
                      texture_size > 0 ? grad_textures.data_ptr<scalar_t>() : nullptr, p});
  });
}

}  // namespace renderers
