// OpenDR on the CPU: all cores through at::parallel_for, deterministic (every work item
// writes only its own outputs; no atomics, no shared sums), so results are bit-identical across
// runs and thread counts.
//
// Forward: the boundary edges of each image are collected (one item per image), then the shared
// band z-buffer (rasterize/zbuffer_cpu.h) runs, and each (image, band) item draws the boundary
// edges' line pixels that fall in its rows edge by edge, keeping the nearest visible line point
// per pixel, and writes its pixels. Backward: the CUDA launch sequence of opendr_kernel.h run
// with at::parallel_for (one item per pixel, then one per face).
//
// The emulated launches (opendr_forward_emulated, opendr_backward_emulated) run the CUDA launch
// sequences of opendr_kernel.h serially, so tests execute every line of the GPU path here.
#include <cstdint>
#include <vector>

#include "../common/launch.h"
#include "../rasterize/zbuffer_cpu.h"
#include "../common/dispatch.h"
#include "opendr_args.h"

namespace renderers {
namespace {

template <typename T>
void forward_impl(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& edges,
                  int64_t edge_batch_stride, const OpenDRParams& params, at::Tensor& image, at::Tensor& face_index,
                  at::Tensor& weights, at::Tensor& depth, at::Tensor& mask) {
  const OpenDRKernelParams<T> p = opendr_kernel_params<T>(face_vertices, textures, edges, edge_batch_stride, params);
  const HardKernelParams<T>& hard = p.hard;
  const int64_t batch = face_vertices.size(0);
  const int size = hard.size, num_faces = hard.num_faces;
  const int64_t plane = int64_t(size) * size;
  at::Tensor setups_holder, lines_holder, counts_holder;
  HardFace<T>* setups = scratch_buffer<HardFace<T>>(setups_holder, face_vertices, batch * num_faces);
  EdgeLine<T>* lines = scratch_buffer<EdgeLine<T>>(lines_holder, face_vertices, p.overdraw ? batch * p.num_edges : 0);
  int32_t* counts = scratch_buffer<int32_t>(counts_holder, face_vertices, batch);
  setup_hard_faces_cpu(face_vertices.data_ptr<T>(), batch * num_faces, hard, setups);
  const OpenDRForwardArgs<T> a = opendr_forward_args(face_vertices, textures, edges, p, setups, lines, counts, image,
                                                     face_index, weights, depth, mask);
  if (p.overdraw) ParallelCpuLauncher{}(batch, CollectEdgesKernel<T>{a});
  zbuffer_bands(setups, batch, hard, [&](const ZBand<T>& band) {
    const int64_t b = band.image;
    const int rows = band.row_end - band.row_begin;
    const HardFace<T>* faces = setups + b * num_faces;
    // The nearest visible line point of each pixel of the band: edge (-1: none), t and q.
    std::vector<int> line_of(size_t(rows) * size, -1);
    std::vector<T> line_t(size_t(rows) * size), line_q(size_t(rows) * size);
    const EdgeLine<T>* image_lines = lines + b * p.num_edges;
    const int count = p.overdraw ? counts[b] : 0;  // (counts is only written when drawing the overdraw)
    for (int k = 0; k < count; ++k) {
      const EdgeLine<T>& line = image_lines[k];
      int m0 = line.first, m1 = line.last;
      if (!line.x_major) {
        m0 = m0 > band.row_begin ? m0 : band.row_begin;
        m1 = m1 < band.row_end - 1 ? m1 : band.row_end - 1;
      }
      for (int m = m0; m <= m1; ++m) {
        T t, q;
        const int across = edge_line_point(line, m, size, t, q);
        const int row = line.x_major ? across : m, col = line.x_major ? m : across;
        if (across < 0 || row < band.row_begin || row >= band.row_end) continue;
        const int64_t local = int64_t(row - band.row_begin) * size + col;
        if (!edge_point_visible(q, band.best[local], band.depth[local], faces, hard)) continue;
        if (line_of[local] < 0 || q > line_q[local]) {
          line_of[local] = k;
          line_t[local] = t;
          line_q[local] = q;
        }
      }
    }
    const T* image_textures = a.textures ? a.textures + b * num_faces * hard.texture_size * 3 : nullptr;
    T* image_b = a.image + b * 4 * plane;
    for (int r = band.row_begin; r < band.row_end; ++r) {
      for (int c = 0; c < size; ++c) {
        const int64_t local = int64_t(r - band.row_begin) * size + c;
        if (line_of[local] >= 0) {
          write_line_pixel(image_lines[line_of[local]], line_t[local], line_q[local], image_textures, hard, r, c,
                           image_b, a.face_index + b * plane, a.weights + b * 3 * plane, a.depth + b * plane,
                           a.mask + b * plane);
        } else {
          write_hard_pixel(faces, image_textures, hard, r, c, band.best[local], image_b, a.face_index + b * plane,
                           a.weights + b * 3 * plane, a.depth + b * plane);
          a.mask[b * plane + int64_t(r) * size + c] = 0;
        }
      }
    }
  });
}

template <typename T, class Launcher>
void backward_impl(const Launcher& launch, const at::Tensor& face_vertices, const at::Tensor& textures,
                   const at::Tensor& image, const at::Tensor& face_index, const at::Tensor& weights,
                   const at::Tensor& mask, const at::Tensor& grad_image, const OpenDRParams& params,
                   at::Tensor& grad_face_vertices, at::Tensor& grad_textures) {
  at::Tensor gradient = opendr_gradient_scratch(face_vertices, params);
  opendr_backward_launch(launch, opendr_backward_args<T>(face_vertices, textures, image, face_index, weights, mask,
                                                         grad_image, params, gradient, grad_face_vertices,
                                                         grad_textures));
}

template <typename T>
void forward_emulated_impl(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& edges,
                           int64_t edge_batch_stride, const OpenDRParams& params, at::Tensor& image,
                           at::Tensor& face_index, at::Tensor& weights, at::Tensor& depth, at::Tensor& mask) {
  const OpenDRKernelParams<T> p = opendr_kernel_params<T>(face_vertices, textures, edges, edge_batch_stride, params);
  opendr_forward_with_scratch(SerialLauncher{}, face_vertices, textures, edges, p, image, face_index, weights, depth,
                              mask);
}

}  // namespace

void opendr_forward_cpu(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& edges,
                        int64_t edge_batch_stride, const OpenDRParams& params, at::Tensor& image,
                        at::Tensor& face_index, at::Tensor& weights, at::Tensor& depth, at::Tensor& mask) {
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "opendr_forward_cpu", [&] {
    forward_impl<scalar_t>(face_vertices, textures, edges, edge_batch_stride, params, image, face_index, weights,
                           depth, mask);
  });
}

void opendr_backward_cpu(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                         const at::Tensor& face_index, const at::Tensor& weights, const at::Tensor& mask,
                         const at::Tensor& grad_image, const OpenDRParams& params, at::Tensor& grad_face_vertices,
                         at::Tensor& grad_textures) {
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "opendr_backward_cpu", [&] {
    backward_impl<scalar_t>(ParallelCpuLauncher{}, face_vertices, textures, image, face_index, weights, mask,
                            grad_image, params, grad_face_vertices, grad_textures);
  });
}

void opendr_forward_emulated(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& edges,
                             int64_t edge_batch_stride, const OpenDRParams& params, at::Tensor& image,
                             at::Tensor& face_index, at::Tensor& weights, at::Tensor& depth, at::Tensor& mask) {
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "opendr_forward_emulated", [&] {
    forward_emulated_impl<scalar_t>(face_vertices, textures, edges, edge_batch_stride, params, image, face_index,
                                    weights, depth, mask);
  });
}

void opendr_backward_emulated(const at::Tensor& face_vertices, const at::Tensor& textures, const at::Tensor& image,
                              const at::Tensor& face_index, const at::Tensor& weights, const at::Tensor& mask,
                              const at::Tensor& grad_image, const OpenDRParams& params,
                              at::Tensor& grad_face_vertices, at::Tensor& grad_textures) {
  AT_DISPATCH_FLOATING_TYPES(face_vertices.scalar_type(), "opendr_backward_emulated", [&] {
    backward_impl<scalar_t>(SerialLauncher{}, face_vertices, textures, image, face_index, weights, mask, grad_image,
                            params, grad_face_vertices, grad_textures);
  });
}

}  // namespace renderers
