// The single Python module of the renderers package: renderers._C
#include <pybind11/stl.h>
#include <torch/extension.h>

#include "common/cpu_lanes.h"
#include "common/tile_bins_launch.h"
#include "edge/edge.h"
#include "gather/gather.h"
#include "kato/kato.h"
#include "opendr/opendr.h"
#include "rasterize/rasterize.h"
#include "soft_rasterize/soft_rasterize.h"

namespace py = pybind11;
using renderers::EdgeParams;
using renderers::OpenDRParams;
using renderers::RasterizeParams;
using renderers::SoftRasParams;

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "Compiled kernels of the renderers package (CPU, and CUDA when built with it).";
#ifdef WITH_CUDA
  m.attr("with_cuda") = true;
#else
  m.attr("with_cuda") = false;
#endif

  m.def("tile_bins_emulated", &renderers::tile_bins_emulated,
        "Screen-tile binning of face rectangles (B*F, 4) int32 (c0, c1, r0, r1), run serially on the CPU (tests): "
        "-> (offsets (B*tiles*tiles+1) int64, faces int32)",
        py::arg("rects"), py::arg("batch"), py::arg("num_faces"), py::arg("tiles"));
  m.def("cpu_lane_widths", &renderers::supported_cpu_lane_widths,
        "The CPU vector widths (float lanes) of the lane-generic kernels this build and CPU run, ascending");
  m.def("cpu_lane_width", &renderers::cpu_lane_width, "The vector width the CPU kernels use now");
  m.def("set_cpu_lane_width", &renderers::set_cpu_lane_width,
        "Sets the CPU kernels' vector width (0: the default, the widest supported); returns the previous one",
        py::arg("width"));
  m.def("gather_faces_forward", &renderers::gather_faces_forward,
        "Per-face gather: (values (B,V,C), faces (F,3)|(B,F,3), scale) -> (B,F,3,C); scale > 0 also applies "
        "the perspective projection (x/(z scale), y/(z scale), z)",
        py::arg("values"), py::arg("faces"), py::arg("scale"), py::arg("emulate_cuda") = false,
        py::arg("check_indices") = true);
  m.def("gather_faces_backward", &renderers::gather_faces_backward,
        "Backward of gather_faces_forward: (values, faces, grad_output (B,F,3,C), scale) -> grad_values (B,V,C)",
        py::arg("values"), py::arg("faces"), py::arg("grad_output"), py::arg("scale"),
        py::arg("emulate_cuda") = false, py::arg("check_indices") = true);

  // Option enums, named by the renderers' option strings (renderers._ext.option_enum).
  py::enum_<renderers::SoftDistance>(m, "SoftDistance")
      .value("euclidean", renderers::kEuclidean)
      .value("barycentric", renderers::kBarycentric);
  py::enum_<renderers::SoftAlphaAggregation>(m, "SoftAlphaAggregation")
      .value("prod", renderers::kAlphaProd)
      .value("sum", renderers::kAlphaSum)
      .value("hard", renderers::kAlphaHard);
  py::enum_<renderers::SoftRgbAggregation>(m, "SoftRgbAggregation")
      .value("softmax", renderers::kRgbSoftmax)
      .value("hard", renderers::kRgbHard)
      .value("none", renderers::kRgbNone);
  py::enum_<renderers::TextureType>(m, "SoftTextureType")
      .value("surface", renderers::kSurfaceTexture)
      .value("vertex", renderers::kVertexTexture);
  py::enum_<renderers::NmrTextureType>(m, "RasterTextureType")
      .value("surface", renderers::kNmrSurface)
      .value("vertex", renderers::kNmrVertex)
      .value("volume", renderers::kNmrVolume)
      .value("none", renderers::kNmrNoTexture);

  py::class_<SoftRasParams>(m, "SoftRasParams")
      .def(py::init<>())
      .def_readwrite("image_size", &SoftRasParams::image_size)
      .def_readwrite("sigma", &SoftRasParams::sigma)
      .def_readwrite("gamma", &SoftRasParams::gamma)
      .def_readwrite("dist_eps", &SoftRasParams::dist_eps)
      .def_readwrite("near", &SoftRasParams::near)
      .def_readwrite("far", &SoftRasParams::far)
      .def_readwrite("eps", &SoftRasParams::eps)
      .def_readwrite("dist_func", &SoftRasParams::dist_func)
      .def_readwrite("aggr_alpha", &SoftRasParams::aggr_alpha)
      .def_readwrite("aggr_rgb", &SoftRasParams::aggr_rgb)
      .def_readwrite("texture_type", &SoftRasParams::texture_type)
      .def_readwrite("double_sided", &SoftRasParams::double_sided)
      .def_readwrite("background", &SoftRasParams::background)
      .def_readwrite("emulate_cuda", &SoftRasParams::emulate_cuda)
      .def("cull_threshold", &SoftRasParams::cull_threshold);

  m.def("soft_rasterize_forward", &renderers::soft_rasterize_forward,
        "SoftRas forward: (face_vertices, textures, params) -> [image (B,4,S,S), aux (B,3,S,S)]");
  m.def("soft_rasterize_backward", &renderers::soft_rasterize_backward,
        "SoftRas backward: (face_vertices, textures, image, aux, grad_image, params) -> "
        "[grad_face_vertices, grad_textures]");

  py::class_<RasterizeParams>(m, "RasterizeParams")
      .def(py::init<>())
      .def_readwrite("image_size", &RasterizeParams::image_size)
      .def_readwrite("near", &RasterizeParams::near)
      .def_readwrite("far", &RasterizeParams::far)
      .def_readwrite("eps", &RasterizeParams::eps)
      .def_readwrite("texture_type", &RasterizeParams::texture_type)
      .def_readwrite("double_sided", &RasterizeParams::double_sided)
      .def_readwrite("background", &RasterizeParams::background)
      .def_readwrite("emulate_cuda", &RasterizeParams::emulate_cuda);

  m.def("rasterize_forward", &renderers::rasterize_forward,
        "Hard (NMR) forward: (face_vertices, textures, params) -> "
        "[image (B,4,S,S), face_index (B,S,S) int32, weights (B,S,S,3), depth (B,S,S)]");
  m.def("kato_backward", &renderers::kato_backward,
        "Kato's approximate gradient (the NMR backward): (face_vertices, textures, image, face_index, grad_image, "
        "params) -> [grad_face_vertices, grad_textures]");

  py::class_<OpenDRParams, RasterizeParams>(m, "OpenDRParams")
      .def(py::init<>())
      .def_readwrite("overdraw", &OpenDRParams::overdraw);

  m.def("opendr_forward", &renderers::opendr_forward,
        "OpenDR forward: (face_vertices, textures, edges (E,6)|(B,E,6) int32, params) -> "
        "[image (B,4,S,S), face_index (B,S,S) int32, weights (B,S,S,3), depth (B,S,S), mask (B,S,S) uint8]");
  m.def("opendr_backward", &renderers::opendr_backward,
        "OpenDR backward: (face_vertices, textures, image, face_index, weights, mask, grad_image, params) -> "
        "[grad_face_vertices, grad_textures]");

  py::class_<EdgeParams, RasterizeParams>(m, "EdgeParams")
      .def(py::init<>())
      .def_readwrite("samples_per_side", &EdgeParams::samples_per_side)
      .def_readwrite("edge_samples", &EdgeParams::edge_samples)
      .def_readwrite("seed", &EdgeParams::seed)
      .def_readwrite("offset", &EdgeParams::offset)
      .def_readwrite("emulate_cuda", &EdgeParams::emulate_cuda)
      .def_readwrite("shadow_samples", &EdgeParams::shadow_samples)
      .def_readwrite("shadow_bias", &EdgeParams::shadow_bias);

  m.def("edge_shadow_forward", &renderers::edge_shadow_forward,
        "Edge sampling with shadows, forward: (face_vertices, ambient (B,F,T,3), directional (B,F,T,3), "
        "world (B,F,3,3), light (B,3) unit, params) -> [image, sample_face, sample_lit (B,S,S,n*n) uint8]");
  m.def("edge_shadow_backward", &renderers::edge_shadow_backward,
        "Edge sampling with shadows, backward: (face_vertices, ambient, directional, world, light, edges, "
        "sample_face, sample_lit, grad_image, params) -> [grad_face_vertices, grad_ambient, grad_directional, "
        "grad_world, grad_light]");
  m.def("edge_forward", &renderers::edge_forward,
        "Edge-sampling forward: (face_vertices, textures, params) -> "
        "[image (B,4,S,S), sample_face (B,S,S,n*n) int32]");
  m.def("edge_backward", &renderers::edge_backward,
        "Edge-sampling backward: (face_vertices, textures, edges (E,6)|(B,E,6) int32, sample_face, grad_image, "
        "params) -> [grad_face_vertices, grad_textures]");
  m.def("edge_random_uniform", &renderers::edge_random_uniform,
        "The counter-based generator of csrc/common/random.h: (seed, stream, counters int64) -> float64 in [0, 1)");
}
