// Host-side checks shared by every op's entry point.
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <utility>

#include "macros.h"

#ifdef WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#endif

namespace renderers {

inline void check_floating(const at::Tensor& t, const char* name) {
  RENDERERS_CHECK(t.defined(), name, " is missing");
  RENDERERS_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, name,
                  " must be float32 or float64, got ", t.scalar_type());
}

inline void check_same(const at::Tensor& t, const at::Tensor& like, const char* name, const char* like_name) {
  check_floating(t, name);
  RENDERERS_CHECK(t.scalar_type() == like.scalar_type(), name, " has dtype ", t.scalar_type(), " but ", like_name,
                  " has ", like.scalar_type());
  RENDERERS_CHECK(t.device() == like.device(), name, " is on ", t.device(), " but ", like_name, " is on ",
                  like.device());
}

// A background colour: finite RGB.
template <typename Color>
inline void check_background(const Color& background) {
  for (const double c : background) RENDERERS_CHECK(std::isfinite(c), "background colours must be finite, got ", c);
}

// The kernels index with 32-bit offsets: every tensor they address holds fewer than 2^31 values.
inline void check_addressable(int64_t numel, const char* name) {
  RENDERERS_CHECK(numel < (int64_t(1) << 31), name, " would hold ", numel,
                  " values; the kernels address at most 2^31 - 1 per tensor: render the batch in smaller parts");
}

// face_vertices (B, F, 3, 3) floating point, fewer than 2^max_faces_log2 faces per mesh.
inline void check_face_vertices(const at::Tensor& face_vertices, int max_faces_log2) {
  check_floating(face_vertices, "face_vertices");
  RENDERERS_CHECK(face_vertices.dim() == 4 && face_vertices.size(2) == 3 && face_vertices.size(3) == 3,
                  "face_vertices must have shape (B, F, 3, 3), got ", face_vertices.sizes());
  RENDERERS_CHECK(face_vertices.size(1) < (int64_t(1) << max_faces_log2), "at most 2^", max_faces_log2,
                  " faces per mesh are supported");
  check_addressable(face_vertices.numel(), "face_vertices");
}

// Per-face textures (B, F, T, 3) matching face_vertices; returns T. Vertex colours (T = 3) and
// square surface grids (T = R*R) are checked here; other layouts by the caller.
inline int64_t check_face_textures(const at::Tensor& textures, const at::Tensor& face_vertices, bool vertex,
                                   bool square_grid) {
  check_same(textures, face_vertices, "textures", "face_vertices");
  RENDERERS_CHECK(textures.dim() == 4 && textures.size(0) == face_vertices.size(0) &&
                      textures.size(1) == face_vertices.size(1) && textures.size(3) == 3,
                  "textures must have shape (B, F, T, 3) matching face_vertices ", face_vertices.sizes(), ", got ",
                  textures.sizes());
  const int64_t t = textures.size(2);
  check_addressable(textures.numel(), "textures");
  if (vertex) {
    RENDERERS_CHECK(t == 3, "vertex textures must have shape (B, F, 3, 3), got ", textures.sizes());
  } else if (square_grid) {
    const auto r = int64_t(std::lround(std::sqrt(double(t))));
    RENDERERS_CHECK(t >= 1 && r * r == t, "surface textures must have R*R colours per face, got ", t);
  }
  return t;
}

// The forward's image and the upstream gradient: (B, 4, S, S) like face_vertices.
inline void check_images(const at::Tensor& image, const at::Tensor& grad_image, const at::Tensor& face_vertices,
                         int64_t batch, int64_t size) {
  for (const auto& [t, name] : {std::pair{image, "image"}, std::pair{grad_image, "grad_image"}}) {
    check_same(t, face_vertices, name, "face_vertices");
    RENDERERS_CHECK(t.dim() == 4 && t.size(0) == batch && t.size(1) == 4 && t.size(2) == size && t.size(3) == size,
                    name, " must have shape (B, 4, S, S), got ", t.sizes());
  }
}

// An uninitialised buffer of n objects of a trivial type O (at least one) on like's device,
// owned by holder; for per-call scratch that every kernel writes before reading.
template <typename O>
O* scratch_buffer(at::Tensor& holder, const at::Tensor& like, int64_t n) {
  holder = at::empty({int64_t(sizeof(O)) * (n > 0 ? n : 1)}, like.options().dtype(at::kByte));
  return reinterpret_cast<O*>(holder.data_ptr<uint8_t>());
}

[[noreturn]] inline void fail_no_cuda(const char* op) {
  TORCH_CHECK(false, "renderers: ", op,
              " got CUDA tensors but this build of the renderers extension has no CUDA support; "
              "reinstall with a CUDA toolkit present (RENDERERS_CUDA=1 forces it) or move the tensors to the CPU");
}

// Makes the tensor's GPU current for the duration of a call (no-op for CPU tensors).
#ifdef WITH_CUDA
struct DeviceGuardFor {
  explicit DeviceGuardFor(const at::Tensor& t) : guard(t.device()) {}
  c10::OptionalDeviceGuard guard;
};
#else
struct DeviceGuardFor {
  explicit DeviceGuardFor(const at::Tensor&) {}
};
#endif

// Calls op##_cuda(args...) for a CUDA tensor, with its GPU current, and op##_cpu(args...)
// otherwise; a build without CUDA kernels rejects CUDA tensors with a clear error.
#ifdef WITH_CUDA
#define RENDERERS_DISPATCH_DEVICE(tensor, op, ...)   \
  do {                                               \
    const ::renderers::DeviceGuardFor guard_(tensor); \
    if ((tensor).is_cuda())                          \
      op##_cuda(__VA_ARGS__);                        \
    else                                             \
      op##_cpu(__VA_ARGS__);                         \
  } while (0)
#else
#define RENDERERS_DISPATCH_DEVICE(tensor, op, ...)            \
  do {                                                        \
    if ((tensor).is_cuda()) ::renderers::fail_no_cuda(#op);   \
    op##_cpu(__VA_ARGS__);                                    \
  } while (0)
#endif

}  // namespace renderers
