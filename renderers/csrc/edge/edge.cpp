// Edge-sampling entry points: validate, allocate, dispatch on the tensors' device (or, for
// tests, run the CUDA launch sequences emulated on the CPU).
#include "edge.h"

#include <cmath>

#include "../common/dispatch.h"
#include "../common/edge_table.h"
#include "../common/random.h"

namespace renderers {
namespace {

void check_edge_params(const EdgeParams& p) {
  check_rasterize_params(p);
  RENDERERS_CHECK(p.texture_type != kNmrVolume,
                  "edge sampling does not support volume textures (their colour changes inside faces are not "
                  "sampled as edges); use per-vertex colours or one colour per face");
  RENDERERS_CHECK(p.samples_per_side >= 1 && p.samples_per_side <= 8,
                  "samples_per_side must be in [1, 8] (1 to 64 area samples per pixel), got ", p.samples_per_side);
  RENDERERS_CHECK(p.edge_samples >= 0 && p.edge_samples < (int64_t(1) << 31),
                  "edge_samples must be in [0, 2^31), got ", p.edge_samples);
  RENDERERS_CHECK(std::isfinite(p.offset) && p.offset > 0.0 && p.offset <= 0.5,
                  "offset (pixels either side of an edge) must be in (0, 0.5], got ", p.offset);
}

void check_edge_inputs(const at::Tensor& face_vertices, const at::Tensor& textures, const EdgeParams& p) {
  check_rasterize_inputs(face_vertices, textures, p);
  check_addressable(face_vertices.size(0) * int64_t(p.image_size) * p.image_size * p.samples_per_side *
                        p.samples_per_side,
                    "sample_face (B, S, S, n*n)");
  if (p.texture_type == kNmrSurface)
    RENDERERS_CHECK(textures.size(2) == 1,
                    "edge sampling supports one colour per face (surface textures with R = 1); got R*R = ",
                    textures.size(2), " colours per face, whose texel borders would be missed by the boundary term");
}

// For each face corner, the (at most two) edge endpoints it is: edge * 2 + (0 for a, 1 for b),
// -1 for none; only face_a (the row's owner) receives an edge's gradient. rows: checked (E, 6) or
// (B, E, 6) CPU table. Returns (F, 3, 2) or (B, F, 3, 2) int32.
at::Tensor corner_table(const at::Tensor& rows, int64_t num_faces) {
  const int64_t images = rows.dim() == 3 ? rows.size(0) : 1, num_edges = rows.size(-2);
  at::Tensor corners = at::full({images, num_faces, 3, 2}, -1, rows.options());
  int32_t* c = corners.data_ptr<int32_t>();
  const int32_t* r = rows.data_ptr<int32_t>();
  for (int64_t b = 0; b < images; ++b) {
    int32_t* ci = c + b * num_faces * 6;
    for (int64_t e = 0; e < num_edges; ++e) {
      const int32_t* row = r + (b * num_edges + e) * 6;
      if (row[0] < 0) continue;
      for (int end = 0; end < 2; ++end) {
        int32_t* slot = ci + (int64_t(row[0]) * 3 + row[1 + end]) * 2;
        const int m = slot[0] < 0 ? 0 : 1;
        RENDERERS_CHECK(slot[m] < 0, "edges: face ", row[0], " corner ", row[1 + end],
                        " ends more than two edges it owns (duplicate rows?)");
        slot[m] = int32_t(e * 2 + end);
      }
    }
  }
  return rows.dim() == 3 ? corners : corners[0];
}

// The light's tensors of a shadowed call: directional like textures, world (B, F, 3, 3), light
// (B, 3), all of face_vertices' dtype and device; returned contiguous.
EdgeShadowTensors check_shadow_inputs(const at::Tensor& face_vertices, const at::Tensor& textures,
                                      const at::Tensor& directional, const at::Tensor& world,
                                      const at::Tensor& light, const EdgeParams& p) {
  RENDERERS_CHECK(p.texture_type != kNmrNoTexture,
                  "shadows change colours only: a silhouette (texture type none) has none to shadow");
  RENDERERS_CHECK(p.shadow_samples >= 0 && p.shadow_samples < (int64_t(1) << 31),
                  "shadow_samples must be in [0, 2^31), got ", p.shadow_samples);
  RENDERERS_CHECK(std::isfinite(p.shadow_bias) && p.shadow_bias >= 0.0 && p.shadow_bias < 1.0,
                  "shadow_bias (relative to the scene's extent) must be in [0, 1), got ", p.shadow_bias);
  check_same(directional, face_vertices, "directional", "face_vertices");
  RENDERERS_CHECK(directional.sizes() == textures.sizes(), "directional must have the textures' shape ",
                  textures.sizes(), ", got ", directional.sizes());
  check_same(world, face_vertices, "world", "face_vertices");
  RENDERERS_CHECK(world.sizes() == face_vertices.sizes(), "world must have face_vertices' shape (B, F, 3, 3) = ",
                  face_vertices.sizes(), ", got ", world.sizes());
  check_same(light, face_vertices, "light", "face_vertices");
  RENDERERS_CHECK(light.dim() == 2 && light.size(0) == face_vertices.size(0) && light.size(1) == 3,
                  "light must have shape (B, 3) = (", face_vertices.size(0), ", 3), got ", light.sizes());
  check_addressable(face_vertices.size(0) * p.shadow_samples * 27, "the shadow samples' records (B, N, 27)");
  EdgeShadowTensors t;
  t.shadows = true;
  t.directional = directional.contiguous();
  t.world = world.contiguous();
  t.light = light.contiguous();
  return t;
}

std::vector<at::Tensor> forward(const at::Tensor& face_vertices_in, const at::Tensor& textures_in,
                                const EdgeParams& params, const EdgeShadowTensors* light) {
  EdgeForwardTensors t;
  t.face_vertices = face_vertices_in.contiguous();
  t.textures = rasterize_textures_or_empty(textures_in, params);
  const int64_t batch = t.face_vertices.size(0), size = params.image_size;
  const int64_t spp = int64_t(params.samples_per_side) * params.samples_per_side;
  const auto options = t.face_vertices.options();
  t.image = at::empty({batch, 4, size, size}, options);  // every pixel written
  t.sample_face = at::empty({batch, size, size, spp}, options.dtype(at::kInt));
  if (light) {
    t.light = *light;
    t.sample_lit = at::empty({batch, size, size, spp}, options.dtype(at::kByte));
  }
  if (batch > 0) {
    if (params.emulate_cuda) {
      RENDERERS_CHECK(t.face_vertices.device().is_cpu(), "emulate_cuda runs on CPU tensors only");
      edge_forward_emulated(t, params);
    } else {
      RENDERERS_DISPATCH_DEVICE(t.face_vertices, edge_forward, t, params);
    }
  }
  if (light) return {t.image, t.sample_face, t.sample_lit};
  return {t.image, t.sample_face};
}

std::vector<at::Tensor> backward(const at::Tensor& face_vertices_in, const at::Tensor& textures_in,
                                 const at::Tensor& edges_in, const at::Tensor& sample_face_in,
                                 const at::Tensor& grad_image_in, const EdgeParams& params,
                                 const EdgeShadowTensors* light, const at::Tensor& sample_lit_in) {
  EdgeBackwardTensors t;
  t.face_vertices = face_vertices_in.contiguous();
  t.textures = rasterize_textures_or_empty(textures_in, params);
  const int64_t batch = t.face_vertices.size(0), size = params.image_size, num_faces = t.face_vertices.size(1);
  const int64_t spp = int64_t(params.samples_per_side) * params.samples_per_side;
  check_same(grad_image_in, t.face_vertices, "grad_image", "face_vertices");
  RENDERERS_CHECK(grad_image_in.dim() == 4 && grad_image_in.size(0) == batch && grad_image_in.size(1) == 4 &&
                      grad_image_in.size(2) == size && grad_image_in.size(3) == size,
                  "grad_image must have shape (B, 4, S, S) = (", batch, ", 4, ", size, ", ", size, "), got ",
                  grad_image_in.sizes());
  RENDERERS_CHECK(sample_face_in.defined() && sample_face_in.scalar_type() == at::kInt &&
                      sample_face_in.device() == t.face_vertices.device() && sample_face_in.dim() == 4 &&
                      sample_face_in.size(0) == batch && sample_face_in.size(1) == size &&
                      sample_face_in.size(2) == size && sample_face_in.size(3) == spp,
                  "sample_face must be int32 (B, S, S, samples_per_side^2) = (", batch, ", ", size, ", ", size, ", ",
                  spp, ") on ", t.face_vertices.device());
  // (sample_face values are only compared with face ids, never used as addresses.)
  at::Tensor rows;
  t.edge_stride = check_edge_table(edges_in, t.face_vertices, &rows);
  t.edges = edges_in.contiguous();
  t.corners = corner_table(rows, num_faces).to(t.face_vertices.device());
  t.corner_stride = t.corners.dim() == 4 ? num_faces * 6 : 0;
  t.sample_face = sample_face_in.contiguous();
  t.grad_image = grad_image_in.contiguous();
  t.grad_face_vertices = at::zeros_like(t.face_vertices);
  t.grad_textures = t.textures.defined() ? at::zeros_like(t.textures) : at::Tensor();
  if (light) {
    RENDERERS_CHECK(sample_lit_in.defined() && sample_lit_in.scalar_type() == at::kByte &&
                        sample_lit_in.device() == t.face_vertices.device() &&
                        sample_lit_in.sizes() == sample_face_in.sizes(),
                    "sample_lit must be uint8 with sample_face's shape ", sample_face_in.sizes(), " on ",
                    t.face_vertices.device());
    t.light = *light;
    t.sample_lit = sample_lit_in.contiguous();
    t.grad_directional = at::zeros_like(t.light.directional);
    t.grad_world = at::zeros_like(t.light.world);
    t.grad_light = at::zeros_like(t.light.light);
  }
  if (batch > 0 && num_faces > 0) {
    if (params.emulate_cuda) {
      RENDERERS_CHECK(t.face_vertices.device().is_cpu(), "emulate_cuda runs on CPU tensors only");
      edge_backward_emulated(t, params);
    } else {
      RENDERERS_DISPATCH_DEVICE(t.face_vertices, edge_backward, t, params);
    }
  }
  if (light) return {t.grad_face_vertices, t.grad_textures, t.grad_directional, t.grad_world, t.grad_light};
  return {t.grad_face_vertices, t.grad_textures};
}

}  // namespace

std::vector<at::Tensor> edge_forward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                     const EdgeParams& params) {
  check_edge_params(params);
  check_edge_inputs(face_vertices, textures, params);
  return forward(face_vertices, textures, params, nullptr);
}

std::vector<at::Tensor> edge_backward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                      const at::Tensor& edges, const at::Tensor& sample_face,
                                      const at::Tensor& grad_image, const EdgeParams& params) {
  check_edge_params(params);
  check_edge_inputs(face_vertices, textures, params);
  return backward(face_vertices, textures, edges, sample_face, grad_image, params, nullptr, at::Tensor());
}

std::vector<at::Tensor> edge_shadow_forward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                            const at::Tensor& directional, const at::Tensor& world,
                                            const at::Tensor& light, const EdgeParams& params) {
  check_edge_params(params);
  check_edge_inputs(face_vertices, textures, params);
  const EdgeShadowTensors shadow = check_shadow_inputs(face_vertices, textures, directional, world, light, params);
  return forward(face_vertices, textures, params, &shadow);
}

std::vector<at::Tensor> edge_shadow_backward(const at::Tensor& face_vertices, const at::Tensor& textures,
                                             const at::Tensor& directional, const at::Tensor& world,
                                             const at::Tensor& light, const at::Tensor& edges,
                                             const at::Tensor& sample_face, const at::Tensor& sample_lit,
                                             const at::Tensor& grad_image, const EdgeParams& params) {
  check_edge_params(params);
  check_edge_inputs(face_vertices, textures, params);
  const EdgeShadowTensors shadow = check_shadow_inputs(face_vertices, textures, directional, world, light, params);
  return backward(face_vertices, textures, edges, sample_face, grad_image, params, &shadow, sample_lit);
}

at::Tensor edge_random_uniform(int64_t seed, int64_t stream, const at::Tensor& counters_in) {
  RENDERERS_CHECK(counters_in.defined() && counters_in.scalar_type() == at::kLong && counters_in.device().is_cpu(),
                  "counters must be an int64 CPU tensor");
  RENDERERS_CHECK(stream >= 0 && stream < (int64_t(1) << 32), "stream must be in [0, 2^32), got ", stream);
  const at::Tensor counters = counters_in.contiguous();
  at::Tensor out = at::empty(counters.sizes(), counters.options().dtype(at::kDouble));
  const int64_t* c = counters.data_ptr<int64_t>();
  double* o = out.data_ptr<double>();
  for (int64_t i = 0; i < counters.numel(); ++i)
    o[i] = random_uniform<double>(uint64_t(seed), uint32_t(stream), uint64_t(c[i]));
  return out;
}

}  // namespace renderers
