// Face gathers: validate, allocate, dispatch on the tensors' device (or, for tests, run the CUDA
// launch sequence emulated on the CPU).
#include "gather.h"

#include "../common/dispatch.h"

namespace renderers {
namespace {

// Checks values (B, V, C) and faces (F, 3) | (B, F, 3); returns faces as (1 | B, F, 3)
// contiguous int64 and sets the batch stride of its indices (0 when shared).
at::Tensor checked_faces(const at::Tensor& values, const at::Tensor& faces_in, double scale, bool check_indices,
                         int64_t& face_batch_stride) {
  check_floating(values, "values");
  RENDERERS_CHECK(values.dim() == 3, "values must have shape (B, V, C), got ", values.sizes());
  RENDERERS_CHECK(scale <= 0.0 || values.size(2) == 3, "projected values must be points (B, V, 3), got ",
                  values.sizes());
  RENDERERS_CHECK(faces_in.defined() && faces_in.scalar_type() == at::kLong, "faces must be int64, got ",
                  faces_in.defined() ? toString(faces_in.scalar_type()) : "nothing");
  RENDERERS_CHECK(faces_in.device() == values.device(), "faces are on ", faces_in.device(), " but values on ",
                  values.device());
  const bool shared = faces_in.dim() == 2;
  RENDERERS_CHECK((shared || (faces_in.dim() == 3 && faces_in.size(0) == values.size(0))) && faces_in.size(-1) == 3,
                  "faces must have shape (F, 3) or (B, F, 3) with B = ", values.size(0), ", got ", faces_in.sizes());
  const at::Tensor faces = (shared ? faces_in.unsqueeze(0) : faces_in).contiguous();
  if (check_indices && faces.numel() > 0) {  // a device-to-host copy: callers that checked skip it
    const auto [low, high] = at::aminmax(faces);
    const int64_t lo = low.item<int64_t>(), hi = high.item<int64_t>();
    RENDERERS_CHECK(lo >= 0 && hi < values.size(1), "face indices must be in [0, ", values.size(1) - 1,
                    "] (V = ", values.size(1), "), got range [", lo, ", ", hi, "]");
  }
  face_batch_stride = shared ? 0 : faces.size(1) * 3;
  return faces;
}

}  // namespace

at::Tensor gather_faces_forward(const at::Tensor& values_in, const at::Tensor& faces_in, double scale,
                                bool emulate_cuda, bool check_indices) {
  int64_t face_batch_stride = 0;
  const at::Tensor faces = checked_faces(values_in, faces_in, scale, check_indices, face_batch_stride);
  const at::Tensor values = values_in.contiguous();
  at::Tensor output = at::empty({values.size(0), faces.size(1), 3, values.size(2)}, values.options());
  if (output.numel() == 0) return output;
  if (emulate_cuda) {
    RENDERERS_CHECK(values.device().is_cpu(), "emulate_cuda runs on CPU tensors only");
    gather_faces_forward_emulated(values, faces, face_batch_stride, scale, output);
    return output;
  }
  RENDERERS_DISPATCH_DEVICE(values, gather_faces_forward, values, faces, face_batch_stride, scale, output);
  return output;
}

at::Tensor gather_faces_backward(const at::Tensor& values_in, const at::Tensor& faces_in,
                                 const at::Tensor& grad_output_in, double scale, bool emulate_cuda,
                                 bool check_indices) {
  int64_t face_batch_stride = 0;
  const at::Tensor faces = checked_faces(values_in, faces_in, scale, check_indices, face_batch_stride);
  const at::Tensor values = values_in.contiguous();
  check_same(grad_output_in, values, "grad_output", "values");
  RENDERERS_CHECK(grad_output_in.dim() == 4 && grad_output_in.size(0) == values.size(0) &&
                      grad_output_in.size(1) == faces.size(1) && grad_output_in.size(2) == 3 &&
                      grad_output_in.size(3) == values.size(2),
                  "grad_output must have shape (B, F, 3, C) = (", values.size(0), ", ", faces.size(1), ", 3, ",
                  values.size(2), "), got ", grad_output_in.sizes());
  const at::Tensor grad_output = grad_output_in.contiguous();
  at::Tensor grad_values = at::zeros_like(values);
  if (grad_output.numel() == 0) return grad_values;
  if (emulate_cuda) {
    RENDERERS_CHECK(values.device().is_cpu(), "emulate_cuda runs on CPU tensors only");
    gather_faces_backward_emulated(values, faces, face_batch_stride, grad_output, scale, grad_values);
    return grad_values;
  }
  RENDERERS_DISPATCH_DEVICE(values, gather_faces_backward, values, faces, face_batch_stride, grad_output, scale,
                            grad_values);
  return grad_values;
}

}  // namespace renderers
