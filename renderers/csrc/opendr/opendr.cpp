// OpenDR entry points: validate, allocate, dispatch on the tensors' device (or, for tests, run
// the CUDA launch sequences emulated on the CPU).
#include "../common/dispatch.h"
#include "../common/edge_table.h"
#include "opendr.h"

namespace renderers {

std::vector<at::Tensor> opendr_forward(const at::Tensor& face_vertices_in, const at::Tensor& textures_in,
                                       const at::Tensor& edges_in, const OpenDRParams& params) {
  HardForwardInputs in = prepare_hard_forward(face_vertices_in, textures_in, params);
  const at::Tensor &face_vertices = in.face_vertices, &textures = in.textures;
  const int64_t edge_batch_stride = check_edge_table(edges_in, face_vertices);
  const at::Tensor edges = edges_in.contiguous();
  std::vector<at::Tensor>& out = in.outputs;
  const int64_t batch = face_vertices.size(0), size = params.image_size;
  out.push_back(at::empty({batch, size, size}, face_vertices.options().dtype(at::kByte)));  // mask, all written
  if (batch == 0) return out;
  if (params.emulate_cuda) {
    RENDERERS_CHECK(face_vertices.device().is_cpu(), "emulate_cuda runs on CPU tensors only");
    opendr_forward_emulated(face_vertices, textures, edges, edge_batch_stride, params, out[0], out[1], out[2],
                            out[3], out[4]);
    return out;
  }
  RENDERERS_DISPATCH_DEVICE(face_vertices, opendr_forward, face_vertices, textures, edges, edge_batch_stride, params,
                            out[0], out[1], out[2], out[3], out[4]);
  return out;
}

std::vector<at::Tensor> opendr_backward(const at::Tensor& face_vertices_in, const at::Tensor& textures_in,
                                        const at::Tensor& image_in, const at::Tensor& face_index_in,
                                        const at::Tensor& weights_in, const at::Tensor& mask_in,
                                        const at::Tensor& grad_image_in, const OpenDRParams& params) {
  HardBackwardInputs in = prepare_hard_backward(face_vertices_in, textures_in, image_in, face_index_in,
                                                grad_image_in, params);
  const int64_t batch = in.batch, size = in.size;
  check_same(weights_in, in.face_vertices, "weights", "face_vertices");
  RENDERERS_CHECK(weights_in.dim() == 4 && weights_in.size(0) == batch && weights_in.size(1) == size &&
                      weights_in.size(2) == size && weights_in.size(3) == 3,
                  "weights must have shape (B, S, S, 3), got ", weights_in.sizes());
  RENDERERS_CHECK(mask_in.defined() && mask_in.scalar_type() == at::kByte &&
                      mask_in.device() == in.face_vertices.device() && mask_in.dim() == 3 &&
                      mask_in.size(0) == batch && mask_in.size(1) == size && mask_in.size(2) == size,
                  "mask must be uint8 (B, S, S) on ", in.face_vertices.device());
  // (face_index values are only compared with face ids, never used as addresses.)
  const at::Tensor weights = weights_in.contiguous(), mask = mask_in.contiguous();
  if (batch == 0) return {in.grad_face_vertices, in.grad_textures};
  if (params.emulate_cuda) {
    RENDERERS_CHECK(in.face_vertices.device().is_cpu(), "emulate_cuda runs on CPU tensors only");
    opendr_backward_emulated(in.face_vertices, in.textures, in.image, in.face_index, weights, mask, in.grad_image,
                             params, in.grad_face_vertices, in.grad_textures);
  } else {
    RENDERERS_DISPATCH_DEVICE(in.face_vertices, opendr_backward, in.face_vertices, in.textures, in.image,
                              in.face_index, weights, mask, in.grad_image, params, in.grad_face_vertices,
                              in.grad_textures);
  }
  return {in.grad_face_vertices, in.grad_textures};
}

}  // namespace renderers
