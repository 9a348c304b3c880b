// The edge-sampling launch sequences, generic over the launcher (common/launch.h): the CPU runs
// them with ParallelCpuLauncher, CUDA with CudaLauncher, the emulation with SerialLauncher.
// Scratch is allocated on the tensors' device; prefix sums use ATen (deterministic on both).
#pragma once

#include <ATen/ATen.h>

#include "../common/dispatch.h"
#include "../common/tile_bins_launch.h"
#include "edge.h"
#include "edge_kernel.h"
#include "shadow_boundary_kernel.h"

namespace renderers {

template <typename T>
EdgeKernelParams<T> make_edge_params(const EdgeParams& params, const at::Tensor& face_vertices,
                                     const at::Tensor& textures, int num_edges = 0, int64_t edge_stride = 0,
                                     int64_t corner_stride = 0) {
  EdgeKernelParams<T> p;
  p.hard = make_hard_params<T>(params, int(face_vertices.size(1)), rasterize_texture_size(textures));
  p.side = params.samples_per_side;
  p.spp = p.side * p.side;
  p.tiles = (params.image_size + kEdgeTile - 1) / kEdgeTile;
  p.num_edges = num_edges;
  p.edge_stride = edge_stride;
  p.corner_stride = corner_stride;
  p.edge_samples = params.edge_samples;
  p.seed = uint64_t(params.seed);
  p.delta = T(2.0 * params.offset / params.image_size);
  p.reject = T(4.0 * params.offset / params.image_size);
  p.pad = T(2.0 * kBinPad / params.image_size);
  return p;
}

// Face set-up and tile bins of a batch; the tensors own the storage.
template <typename T>
struct EdgeBins {
  at::Tensor setups_holder, rects_holder;
  TileBins tiles;
  const HardFace<T>* setups = nullptr;
};

template <typename T, class Launcher>
EdgeBins<T> edge_bin_faces(const Launcher& launch, const at::Tensor& face_vertices, const EdgeKernelParams<T>& p) {
  const int64_t batch = face_vertices.size(0), count = batch * p.hard.num_faces;
  EdgeBins<T> bins;
  HardFace<T>* setups = scratch_buffer<HardFace<T>>(bins.setups_holder, face_vertices, count);
  launch(count, HardSetupKernel<T>{face_vertices.data_ptr<T>(), setups, p.hard});
  bins.setups = setups;
  TileRect* rects = scratch_buffer<TileRect>(bins.rects_holder, face_vertices, count);
  launch(count, EdgeFaceRectKernel<T>{setups, rects, p});
  bins.tiles = bin_faces_in_tiles(launch, rects, batch, p.hard.num_faces, p.tiles, face_vertices);
  return bins;
}

// The light frames and shadow-ray cells of a batch (shadow_kernel.h); the tensors own the storage.
template <typename T>
struct ShadowBins {
  at::Tensor frames, faces_holder, rects_holder;
  TileBins cells;
  ShadowScene<T> scene;
};

// Light-frame cells per side: about sqrt(F), so that a cell holds a few faces.
inline int shadow_cells(int64_t num_faces) {
  int cells = 1;
  while (int64_t(cells + 1) * (cells + 1) <= num_faces && cells < 256) ++cells;
  return cells;
}

template <typename T, class Launcher>
ShadowBins<T> shadow_bin_faces(const Launcher& launch, const EdgeShadowTensors& light, const EdgeParams& params) {
  ShadowBins<T> bins;
  const at::Tensor& world = light.world;
  const int64_t batch = world.size(0);
  const int num_faces = int(world.size(1));
  const int cells = shadow_cells(num_faces);
  const at::Tensor frames = at::empty({batch, kLightFrameStride}, world.options());
  bins.frames = frames;
  launch(batch, LightFrameKernel<T>{world.data_ptr<T>(), light.light.data_ptr<T>(), frames.data_ptr<T>(),
                                    num_faces, cells, T(params.shadow_bias)});
  LightFace<T>* faces = scratch_buffer<LightFace<T>>(bins.faces_holder, world, batch * num_faces);
  TileRect* rects = scratch_buffer<TileRect>(bins.rects_holder, world, batch * num_faces);
  launch(batch * num_faces,
         LightFaceKernel<T>{world.data_ptr<T>(), frames.data_ptr<T>(), faces, rects, num_faces, cells});
  bins.cells = bin_faces_in_tiles(launch, rects, batch, num_faces, cells, world);
  bins.scene.faces = faces;
  bins.scene.frames = frames.data_ptr<T>();
  bins.scene.cell_faces = bins.cells.faces_ptr();
  bins.scene.cell_offsets = bins.cells.offsets_ptr();
  bins.scene.world = world.data_ptr<T>();
  bins.scene.directional = light.directional.data_ptr<T>();
  bins.scene.cells = cells;
  return bins;
}

// With shadows: bins the faces in the light frame and points the kernel arguments `a` (forward or
// backward) at the shadow scene and the samples' visibility; the bins own the storage.
template <typename T, class Launcher, class Args>
ShadowBins<T> attach_shadows(const Launcher& launch, const EdgeShadowTensors& light, const at::Tensor& sample_lit,
                             const EdgeParams& params, Args& a) {
  ShadowBins<T> bins;
  if (!light.shadows) return bins;
  bins = shadow_bin_faces<T>(launch, light, params);
  a.shadow = bins.scene;
  a.sample_lit = sample_lit.data_ptr<uint8_t>();
  return bins;
}

template <typename T, class Launcher>
void edge_forward_launch(const Launcher& launch, EdgeForwardTensors& t, const EdgeParams& params) {
  const EdgeKernelParams<T> p = make_edge_params<T>(params, t.face_vertices, t.textures);
  const EdgeBins<T> bins = edge_bin_faces(launch, t.face_vertices, p);
  const int64_t pixels = t.face_vertices.size(0) * int64_t(p.hard.size) * p.hard.size;
  EdgeForwardArgs<T> a{bins.setups,
                       bins.tiles.faces_ptr(),
                       bins.tiles.offsets_ptr(),
                       p.hard.texture_size > 0 ? t.textures.data_ptr<T>() : nullptr,
                       t.image.data_ptr<T>(),
                       t.sample_face.data_ptr<int32_t>(),
                       p};
  const ShadowBins<T> shadow = attach_shadows<T>(launch, t.light, t.sample_lit, params, a);
  launch(pixels, EdgeForwardPixelKernel<T>{a});
}

// The secondary (shadow) boundary term (shadow_boundary_kernel.h): adds to t.grad_face_vertices,
// t.grad_world and t.grad_light.
template <typename T, class Launcher>
void shadow_boundary_launch(const Launcher& launch, EdgeBackwardTensors& t, const EdgeParams& params,
                            const EdgeBackwardArgs<T>& edge_args, const ShadowScene<T>& scene) {
  const EdgeKernelParams<T>& p = edge_args.p;
  const int64_t batch = t.face_vertices.size(0), num_faces = p.hard.num_faces, num_edges = p.num_edges;
  const int64_t samples = params.shadow_samples;
  const auto options = t.face_vertices.options();
  at::Tensor lengths = at::empty({batch, num_edges}, options);
  at::Tensor sample_edge = at::empty({batch, samples}, options.dtype(at::kInt));
  at::Tensor receiver = at::empty({batch, samples}, options.dtype(at::kInt));
  at::Tensor records = at::empty({batch, samples, kShadowRecord}, options);
  at::Tensor edge_grad = at::empty({batch, num_edges, 6}, options);
  ShadowBoundaryArgs<T> a{edge_args.setups,
                          edge_args.tile_faces,
                          edge_args.tile_offsets,
                          edge_args.textures,
                          scene,
                          edge_args.edges,
                          edge_args.corners,
                          edge_args.grad_image,
                          lengths.data_ptr<T>(),
                          nullptr,
                          sample_edge.data_ptr<int32_t>(),
                          receiver.data_ptr<int32_t>(),
                          records.data_ptr<T>(),
                          edge_grad.data_ptr<T>(),
                          nullptr,
                          nullptr,
                          t.grad_face_vertices.data_ptr<T>(),
                          t.grad_world.data_ptr<T>(),
                          t.grad_light.data_ptr<T>(),
                          samples,
                          p};
  launch(batch * num_edges, ShadowEdgeLengthKernel<T>{a});
  const at::Tensor ends = at::cumsum(lengths, 1);  // edge order, deterministic
  a.ends = ends.data_ptr<T>();
  launch(batch * samples, ShadowSampleKernel<T>{a});
  launch(batch * num_edges, ShadowEdgeGatherKernel<T>{a});
  launch(batch * num_faces * 3, ShadowCornerGatherKernel<T>{a});
  // the receivers' samples, stably sorted by receiver (dropped samples, -1, last)
  const at::Tensor keys = at::where(receiver < 0, at::full_like(receiver, num_faces), receiver).to(at::kLong);
  const auto [sorted, order] = at::sort(keys, /*stable=*/true, /*dim=*/1, /*descending=*/false);
  const at::Tensor faces = at::arange(num_faces + 1, keys.options()).expand({batch, num_faces + 1}).contiguous();
  const at::Tensor offsets = at::searchsorted(sorted, faces).contiguous();
  const at::Tensor order_c = order.contiguous();
  a.order = order_c.data_ptr<int64_t>();
  a.receiver_offsets = offsets.data_ptr<int64_t>();
  launch(batch * num_faces, ShadowReceiverGatherKernel<T>{a});
  launch(batch, ShadowLightGatherKernel<T>{a});
}

template <typename T, class Launcher>
void edge_backward_launch(const Launcher& launch, EdgeBackwardTensors& t, const EdgeParams& params) {
  const int num_edges = int(t.edges.size(-2));
  const EdgeKernelParams<T> p =
      make_edge_params<T>(params, t.face_vertices, t.textures, num_edges, t.edge_stride, t.corner_stride);
  const int64_t batch = t.face_vertices.size(0), num_faces = p.hard.num_faces;
  const EdgeBins<T> bins = edge_bin_faces(launch, t.face_vertices, p);
  const auto options = t.face_vertices.options();
  at::Tensor segments_holder;
  at::Tensor mixed = at::empty({batch, p.hard.size, p.hard.size}, options.dtype(at::kByte));
  at::Tensor lengths = at::empty({batch, num_edges}, options);
  at::Tensor weights = at::empty({batch, num_edges}, options);
  at::Tensor counts = at::empty({batch, num_edges}, options.dtype(at::kLong));
  at::Tensor edge_grad = at::empty({batch, num_edges, 4}, options);
  EdgeBackwardArgs<T> a{bins.setups,
                        bins.tiles.faces_ptr(),
                        bins.tiles.offsets_ptr(),
                        p.hard.texture_size > 0 ? t.textures.data_ptr<T>() : nullptr,
                        num_edges > 0 ? t.edges.data_ptr<int32_t>() : nullptr,
                        t.corners.data_ptr<int32_t>(),
                        t.sample_face.data_ptr<int32_t>(),
                        mixed.data_ptr<uint8_t>(),
                        t.grad_image.data_ptr<T>(),
                        scratch_buffer<EdgeSegment<T>>(segments_holder, t.face_vertices, batch * num_edges),
                        lengths.data_ptr<T>(),
                        weights.data_ptr<T>(),
                        nullptr,
                        counts.data_ptr<int64_t>(),
                        nullptr,
                        nullptr,
                        edge_grad.data_ptr<T>(),
                        t.grad_face_vertices.data_ptr<T>(),
                        t.grad_textures.defined() ? t.grad_textures.data_ptr<T>() : nullptr,
                        batch,
                        0,
                        p};
  const ShadowBins<T> shadow = attach_shadows<T>(launch, t.light, t.sample_lit, params, a);
  if (t.light.shadows) a.grad_directional = t.grad_directional.data_ptr<T>();
  if (p.hard.texture_type != kNmrNoTexture) launch(batch * num_faces, EdgeInteriorFaceKernel<T>{a});
  if (t.light.shadows && num_edges > 0 && params.shadow_samples > 0)
    shadow_boundary_launch(launch, t, params, a, shadow.scene);
  if (num_edges == 0 || p.edge_samples == 0) return;
  launch(batch * p.hard.size * p.hard.size,
         EdgeMixedPixelKernel{a.sample_face, a.mixed, p.hard.size, p.spp, p.hard.texture_type == kNmrNoTexture});
  launch(batch * num_edges, EdgeSegmentKernel<T>{a});
  at::Tensor totals = at::empty({batch}, options);
  launch(batch, EdgeWeightTotalKernel<T>{weights.data_ptr<T>(), totals.data_ptr<T>(), num_edges});
  a.weight_totals = totals.data_ptr<T>();
  launch(batch * num_edges, EdgeAllocateKernel<T>{a});
  const at::Tensor ends = at::cumsum(counts, 1);
  a.ends = ends.data_ptr<int64_t>();
  a.max_samples = ends.select(1, num_edges - 1).max().template item<int64_t>();  // one device sync
  const at::Tensor contributions = at::empty({batch, a.max_samples > 0 ? a.max_samples : 1, 4}, options);
  a.contributions = contributions.data_ptr<T>();
  launch(batch * a.max_samples, EdgeBoundarySampleKernel<T>{a});
  launch(batch * num_edges, EdgeGatherKernel<T>{a});
  launch(batch * num_faces * 3, EdgeCornerGatherKernel<T>{a});
}

}  // namespace renderers
