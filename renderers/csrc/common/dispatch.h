// Host-side checks shared by every op's entry point.
#pragma once

#include <ATen/ATen.h>

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

}  // namespace renderers
