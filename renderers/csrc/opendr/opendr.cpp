// OpenDR entry points: validate, allocate, dispatch on the tensors' device (or, for tests, run
// the CUDA launch sequences emulated on the CPU).
#include "../common/dispatch.h"
#include "opendr.h"

namespace renderers {
namespace {

// edges (E, 6) or (B, E, 6) int32 with valid face ids and corner slots; returns the batch stride.
int64_t check_edges(const at::Tensor& edges, const at::Tensor& face_vertices) {
  const int64_t batch = face_vertices.size(0), num_faces = face_vertices.size(1);
  RENDERERS_CHECK(edges.defined() && edges.scalar_type() == at::kInt, "edges must be an int32 tensor, got ",
                  edges.defined() ? edges.scalar_type() : at::ScalarType::Undefined);
  RENDERERS_CHECK(edges.device() == face_vertices.device(), "edges are on ", edges.device(),
                  " but face_vertices are on ", face_vertices.device());
  RENDERERS_CHECK((edges.dim() == 2 || (edges.dim() == 3 && edges.size(0) == batch)) && edges.size(-1) == 6,
                  "edges must have shape (E, 6) or (B, E, 6) with B = ", batch, ", got ", edges.sizes());
  RENDERERS_CHECK(edges.size(-2) < (int64_t(1) << 30), "at most 2^30 edges per mesh are supported");
  // Every row checked on the host (a copy for CUDA tables: one transfer, like a reduction's).
  const at::Tensor rows = edges.to(at::kCPU).contiguous();
  const int32_t* r = rows.data_ptr<int32_t>();
  const auto slots_ok = [](int32_t s0, int32_t s1) { return s0 >= 0 && s0 <= 2 && s1 >= 0 && s1 <= 2 && s0 != s1; };
  for (int64_t i = 0; i < rows.numel() / 6; ++i, r += 6) {
    const bool ok = r[0] >= -1 && r[0] < num_faces && r[3] >= -1 && r[3] < num_faces &&
                    (r[0] < 0 || (slots_ok(r[1], r[2]) && (r[3] < 0 || slots_ok(r[4], r[5]))));
    RENDERERS_CHECK(ok, "edges contain invalid rows (row ", i, "): face ids must be in [-1, ", num_faces - 1,
                    "] and the corner slots of every used face distinct values in [0, 2]");
  }
  return edges.dim() == 3 ? edges.size(1) * 6 : 0;
}

}  // namespace

std::vector<at::Tensor> opendr_forward(const at::Tensor& face_vertices_in, const at::Tensor& textures_in,
                                       const at::Tensor& edges_in, const OpenDRParams& params) {
  HardForwardInputs in = prepare_hard_forward(face_vertices_in, textures_in, params);
  const at::Tensor &face_vertices = in.face_vertices, &textures = in.textures;
  const int64_t edge_batch_stride = check_edges(edges_in, face_vertices);
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
