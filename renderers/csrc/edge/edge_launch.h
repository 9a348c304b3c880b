// The edge-sampling launch sequences, generic over the launcher (common/launch.h): the CPU runs
// them with ParallelCpuLauncher, CUDA with CudaLauncher, the emulation with SerialLauncher.
// Scratch is allocated on the tensors' device; prefix sums use ATen (deterministic on both).
#pragma once

#include <ATen/ATen.h>

#include "../common/dispatch.h"
#include "../common/tile_bins_launch.h"
#include "edge.h"
#include "edge_kernel.h"

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

template <typename T, class Launcher>
void edge_forward_launch(const Launcher& launch, EdgeForwardTensors& t, const EdgeParams& params) {
  const EdgeKernelParams<T> p = make_edge_params<T>(params, t.face_vertices, t.textures);
  const EdgeBins<T> bins = edge_bin_faces(launch, t.face_vertices, p);
  const int64_t pixels = t.face_vertices.size(0) * int64_t(p.hard.size) * p.hard.size;
  const EdgeForwardArgs<T> a{bins.setups,
                             bins.tiles.faces_ptr(),
                             bins.tiles.offsets_ptr(),
                             p.hard.texture_size > 0 ? t.textures.data_ptr<T>() : nullptr,
                             t.image.data_ptr<T>(),
                             t.sample_face.data_ptr<int32_t>(),
                             p};
  launch(pixels, EdgeForwardPixelKernel<T>{a});
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
  if (p.hard.texture_type != kNmrNoTexture) launch(batch * num_faces, EdgeInteriorFaceKernel<T>{a});
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
