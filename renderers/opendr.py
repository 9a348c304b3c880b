"""OpenDR (Loper & Black 2014) as its public code computes it, on the compiled CPU/CUDA kernels.

A z-buffer forward (the hard rasterizer shared with NMR) with OpenDR's boundary overdraw, and
an analytic, approximate backward built from image-space differences (REFERENCE section 7).
The compiled math is ``renderers/csrc/opendr/opendr_kernel.h``; the plain-PyTorch version is
:mod:`renderers.reference.opendr`.

* **Boundary mask M** (``overdraw=True``, OpenDR's boundary mode). Boundary edges are the edges
  with a drawn face that are border edges, join a drawn face to one that is not drawn, or join
  two faces facing opposite ways from the camera (OpenDR's ``dot(ray, normal)`` sign test, which
  for faces in front of the camera is the sign of their screen-space area). Each is drawn as a
  1-pixel line: on every pixel column (for edges with ``|dx| >= |dy|``; rows otherwise) whose
  centre lies within the edge's extent, the pixel whose centre is nearest the edge (ties: the
  larger index). A line pixel is hidden by the face the z-buffer shows there only if that face
  is nearer by more than OpenDR's polygon offset (``glPolygonOffset(10, 1)``: 10 times the face's
  inverse-depth slope per pixel, plus a relative 1e-6 of its inverse depth), so an edge's own
  faces never hide it. Where line points overlap, the nearest wins, then the first edge.
* **On M** the pixel belongs to the edge's owner face (the drawn face in front at the edge: the
  only drawn one, or for a fold the nearer one just inside it), with the perspective-correct
  barycentrics of the edge point (OpenGL interpolates along the line), alpha 1 and the owner's
  colour there: the forward image on M differs from the plain z-buffer image, as in OpenDR.
* **Image gradient G** per channel, in pixels, along rows (x) and down columns (y): off M the
  mean of the one-sided differences whose neighbour is in the image and off M (the central
  difference ``(I[x+1] - I[x-1]) / 2`` where both are); where neither is, and on M, the undivided
  ``I[x+1] - I[x-1]`` (numpy.gradient times 2, so ``2 (I[1] - I[0])`` at the image border). With
  ``overdraw=False`` M is empty: central differences, one-sided at the border.
* **Vertex derivative** at a pixel p of face f with barycentrics ``b_k(p)``:
  ``dI_p/du_k = -G_x(p) b_k(p)``, ``dI_p/dv_k = -G_y(p) b_k(p)`` in pixels, i.e.
  ``dI/dx_ndc = -(S/2) G_x b`` and ``dI/dy_ndc = +(S/2) G_y b`` (rows grow downwards). Empty pixels
  off M contribute nothing, the screen depth none. The projection's backward carries it to the
  world vertices and the camera position.
* **Exact parts**: the colour is linear in the vertex colours / textures (their gradient is the
  barycentric weights), and the lighting's dependence on the normals (hence on the vertices) is
  differentiated exactly by autograd (:class:`renderers.base.Renderer` lights the colours before
  rasterizing), as OpenDR does through its lit vertex colours.

Choices where OpenDR's code is silent or that differ from it, made once here:

* The line rule and depth offset above stand for OpenGL's line rasterization (the diamond-exit
  rule, which draws the same pixels for all but a few end-point pixels).
* OpenDR's ``overdraw=False`` path uses ``cv2.Sobel`` with reflected borders, which gives 0 in the
  first and last columns; here the border pixels get the one-sided difference in both modes.
* A pixel off M whose two neighbours along an axis are both in M (or out of the image) falls back
  to the undivided difference, as OpenDR's NaN replacement does.
* Non-manifold edges (three faces or more) are boundary edges of each of their faces, and border
  edges always are (OpenDR's edge table stores -1 for the missing face, which numpy reads as the
  mesh's last face).
* Facing uses the view ray to the face (OpenDR's earlier test and REFERENCE's); OpenDR's latest
  code compares the signs of the camera-space normals' z, an orthographic approximation.
* ``anti_aliasing=True`` (OpenDR has none) rasterizes at twice the size, computes the gradient
  there and averages 2x2 blocks, as the NMR renderer does.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch

from ._ext import check_device, extension
from .base import Mesh, Renderer
from .registry import register
from .topology import edges_for
from .zbuffer import ZBufferOptions, face_color_input, raster_params, render_supersampled

__all__ = ["OpenDROptions", "OpenDRRenderer", "OpenDRMaps", "opendr_rasterize", "opendr_maps"]


@dataclasses.dataclass
class OpenDROptions(ZBufferOptions):
    """OpenDR options.

    overdraw: OpenDR's boundary mode (the mask M, overdrawn, with its own differences).
    near, far: depth range of drawn surface points.
    double_sided: render back faces too (OpenDR does not cull).
    anti_aliasing: rasterize at 2x the size, then average 2x2 blocks (OpenDR has none).
    """

    overdraw: bool = True
    anti_aliasing: bool = False


def kernel_params(
    image_size: int,
    kind: str | None,
    overdraw: bool = True,
    near: float = 0.1,
    far: float = 100.0,
    double_sided: bool = True,
    background=(0.0, 0.0, 0.0),
    emulate_cuda: bool = False,
):
    """The compiled kernels' parameter struct (``image_size`` is the rasterization size)."""
    params = raster_params(image_size, kind, near, far, double_sided, background, params=extension().OpenDRParams())
    params.overdraw = bool(overdraw)
    params.emulate_cuda = bool(emulate_cuda)
    return params


class _OpenDRRasterize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, face_vertices: torch.Tensor, textures: torch.Tensor, edges: torch.Tensor, params) -> torch.Tensor:
        image, face_index, weights, _, mask = extension().opendr_forward(face_vertices, textures, edges, params)
        ctx.save_for_backward(face_vertices, textures, image, face_index, weights, mask)
        ctx.params = params
        return image

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_image: torch.Tensor):
        face_vertices, textures, image, face_index, weights, mask = ctx.saved_tensors
        grad_faces, grad_textures = extension().opendr_backward(
            face_vertices, textures, image, face_index, weights, mask, grad_image.contiguous(), ctx.params
        )
        return grad_faces, (grad_textures if ctx.needs_input_grad[1] else None), None, None


def opendr_rasterize(
    face_vertices: torch.Tensor,
    face_colors: torch.Tensor | None,
    image_size: int,
    kind: str = "surface",
    *,
    edges: torch.Tensor | None = None,
    overdraw: bool = True,
    near: float = 0.1,
    far: float = 100.0,
    double_sided: bool = True,
    background=(0.0, 0.0, 0.0),
    emulate_cuda: bool = False,
) -> torch.Tensor:
    """Differentiable OpenDR rasterization at ``image_size`` (no anti-aliasing).

    face_vertices: ``(B, F, 3, 3)`` per face, per corner ``(x_ndc, y_ndc, z)``.
    face_colors: ``None`` (silhouette only), ``(B, F, R*R, 3)`` ("surface"), ``(B, F, 3, 3)``
        ("vertex") or ``(B, F, N**3, 3)`` ("volume").
    edges: the face list's edge table ``(E, 6)`` or ``(B, E, 6)`` (:func:`renderers.topology.edge_table`);
        ``None`` treats the faces as unconnected (every edge a border edge).
    emulate_cuda: run the CUDA launch sequence serially on CPU tensors (for tests).
    Returns ``(B, 4, S, S)`` RGBA.
    """
    textures, kind = face_color_input(face_vertices, face_colors, kind)
    params = kernel_params(image_size, kind, overdraw, near, far, double_sided, background, emulate_cuda)
    return _OpenDRRasterize.apply(face_vertices.contiguous(), textures, edges_for(face_vertices, edges), params)


class OpenDRMaps(NamedTuple):
    """Per-pixel result of the OpenDR forward; S the image size.

    face_index: ``(B, S, S)`` int64, the face each pixel belongs to, -1 where empty.
    weights: ``(B, S, S, 3)`` its perspective-corrected barycentrics (at the edge point on M).
    depth: ``(B, S, S)`` (``far`` where empty).
    mask: ``(B, S, S)`` bool, the boundary mask M.
    """

    face_index: torch.Tensor
    weights: torch.Tensor
    depth: torch.Tensor
    mask: torch.Tensor


@torch.no_grad()
def opendr_maps(
    face_vertices: torch.Tensor,
    image_size: int,
    *,
    edges: torch.Tensor | None = None,
    overdraw: bool = True,
    near: float = 0.1,
    far: float = 100.0,
    double_sided: bool = True,
    emulate_cuda: bool = False,
) -> OpenDRMaps:
    """Face-index, barycentric, depth and boundary-mask maps of screen-space faces (not differentiable)."""
    check_device(face_vertices, "face_vertices")
    params = kernel_params(image_size, None, overdraw, near, far, double_sided, emulate_cuda=emulate_cuda)
    _, face_index, weights, depth, mask = extension().opendr_forward(
        face_vertices.contiguous(), face_vertices.new_empty(0), edges_for(face_vertices, edges), params
    )
    return OpenDRMaps(face_index.long(), weights, depth, mask.bool())


@register("opendr")
class OpenDRRenderer(Renderer):
    """``renderers.create("opendr", ...)``: see :class:`OpenDROptions` and the module docstring."""

    Options = OpenDROptions
    texture_kinds = ("vertex", "surface", "volume")

    def rasterize(
        self, face_vertices: torch.Tensor, face_colors: torch.Tensor | None, kind: str, mesh: Mesh | None = None
    ) -> torch.Tensor:
        opts = self.options
        edges = None if mesh is None else mesh.edges
        return render_supersampled(
            lambda size: opendr_rasterize(
                face_vertices,
                face_colors,
                size,
                kind,
                edges=edges,
                overdraw=opts.overdraw,
                near=opts.near,
                far=opts.far,
                double_sided=opts.double_sided,
                background=opts.background,
            ),
            opts.image_size,
            opts.anti_aliasing,
        )
