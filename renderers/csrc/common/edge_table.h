// Host-side checks of mesh edge tables (renderers/topology.py), shared by the ops that take them.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "macros.h"

namespace renderers {

// edges (E, 6) or (B, E, 6) int32 with valid face ids and corner slots, on face_vertices' device.
// Returns the table's batch stride (0 when shared by the batch, else E * 6); host_rows, when
// given, receives the contiguous CPU copy that was checked.
inline int64_t check_edge_table(const at::Tensor& edges, const at::Tensor& face_vertices,
                                at::Tensor* host_rows = nullptr) {
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
  if (host_rows) *host_rows = rows;
  return edges.dim() == 3 ? edges.size(1) * 6 : 0;
}

}  // namespace renderers
