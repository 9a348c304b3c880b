"""Neural 3D Mesh Renderer (Kato et al. 2018) on the compiled CPU/CUDA kernels.

The forward is an ordinary z-buffer rasterizer (REFERENCE section 6); the backward replaces
the zero gradient of the hard visibility by Kato's approximate rasterization gradient and adds
the exact gradient of the colour through the perspective-corrected barycentrics and the
texture gradient. The compiled math is ``renderers/csrc/rasterize/rasterize_kernel.h``; the
plain-Python version written straight from the description is
:mod:`renderers.reference.nmr`.

Choices where the reference is silent, made once here:

* Coverage: a pixel centre is covered when every edge function has the sign of the face's
  signed area (points on an edge count); faces with a non-finite coordinate, ``|A| <= 1e-10``
  (degenerate), a vertex at or behind the camera plane (``z <= 0``) or, single-sided, turned
  away are never drawn; the nearest face wins, the lowest index on exact depth ties.
* Approximate gradient: along each pixel line an edge crosses, the *inside neighbour* is the
  first pixel centre strictly beyond the crossing on the face's side, the *outside neighbour*
  the pixel before it. A pixel reached by moving the edge outward would take the inside
  neighbour's RGBA (only if that pixel shows this face); a pixel of the face uncovered by
  moving it inward would take the outside neighbour's RGBA (only if it is in the image).
  With ``g = sum_c (I_new - I_p)_c dL/dI_p,c`` only ``g < 0`` (the move lowers the loss)
  counts, and an endpoint that must move by ``d`` (along the axis, with the other endpoint
  fixed, pushed ``eps`` away from 0 in the moving direction) receives ``g / d``. (REFERENCE
  words the gate as "skip g <= 0, add -g/d" with the difference taken the other way round;
  the test that a translated triangle's loss decreases along the negative gradient fixes
  the sign.) All four channels enter ``g``; for silhouettes only alpha does.
* Anti-aliasing rasterizes at twice the size and averages 2x2 blocks; the gradient is
  computed at the high resolution (the average's backward spreads it there).
* Depth affects the image through visibility (approximate gradient, x and y only) and
  through the perspective correction of the texture coordinates, which is differentiated
  exactly (the z gradient), as is the colour's dependence on x and y inside a face.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch

from ._ext import check_device, extension
from .base import Mesh, Renderer, check_positive
from .registry import register
from .zbuffer import ZBufferOptions, face_color_input, raster_params, render_supersampled

__all__ = ["NMROptions", "NMRRenderer", "RasterMaps", "hard_rasterize", "rasterize_maps"]


@dataclasses.dataclass
class NMROptions(ZBufferOptions):
    """NMR options with the reference defaults.

    near, far: depth range of drawn surface points.
    eps: minimum displacement (NDC units) of the approximate gradient.
    anti_aliasing: rasterize at 2x the size, then average 2x2 blocks.
    double_sided: render back faces too.
    """

    eps: float = 1e-3
    anti_aliasing: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "eps")


class _HardRasterize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, face_vertices: torch.Tensor, textures: torch.Tensor, params) -> torch.Tensor:
        image, face_index, _, _ = extension().rasterize_forward(face_vertices, textures, params)
        ctx.save_for_backward(face_vertices, textures, image, face_index)
        ctx.params = params
        return image

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_image: torch.Tensor):
        face_vertices, textures, image, face_index = ctx.saved_tensors
        grad_faces, grad_textures = extension().kato_backward(
            face_vertices, textures, image, face_index, grad_image.contiguous(), ctx.params
        )
        return grad_faces, (grad_textures if ctx.needs_input_grad[1] else None), None


def hard_rasterize(
    face_vertices: torch.Tensor,
    face_colors: torch.Tensor | None,
    image_size: int,
    kind: str = "surface",
    *,
    near: float = 0.1,
    far: float = 100.0,
    eps: float = 1e-3,
    double_sided: bool = True,
    background=(0.0, 0.0, 0.0),
    emulate_cuda: bool = False,
) -> torch.Tensor:
    """Differentiable hard rasterization at ``image_size`` (no anti-aliasing).

    face_vertices: ``(B, F, 3, 3)`` per face, per corner ``(x_ndc, y_ndc, z)``.
    face_colors: ``None`` (silhouette only), ``(B, F, R*R, 3)`` ("surface"), ``(B, F, 3, 3)``
        ("vertex") or ``(B, F, N**3, 3)`` ("volume").
    emulate_cuda: run the CUDA launch sequences (rasterize_launch.h, kato_launch.h) serially on CPU
        tensors, forward and backward, for tests on machines without a GPU.
    Returns ``(B, 4, S, S)`` RGBA.
    """
    textures, kind = face_color_input(face_vertices, face_colors, kind)
    params = raster_params(image_size, kind, near, far, double_sided, background, eps)
    params.emulate_cuda = bool(emulate_cuda)
    return _HardRasterize.apply(face_vertices.contiguous(), textures, params)


class RasterMaps(NamedTuple):
    """Per-pixel result of the exact (hard) rasterizer; S the image size.

    face_index: ``(B, S, S)`` int64, the visible face, -1 where empty.
    weights: ``(B, S, S, 3)`` its perspective-corrected barycentrics (0 where empty).
    depth: ``(B, S, S)`` its perspective-correct depth (``far`` where empty).
    """

    face_index: torch.Tensor
    weights: torch.Tensor
    depth: torch.Tensor


@torch.no_grad()
def rasterize_maps(
    face_vertices: torch.Tensor,
    image_size: int,
    *,
    near: float = 0.1,
    far: float = 100.0,
    double_sided: bool = True,
) -> RasterMaps:
    """The exact renderer: face-index, barycentric and depth maps of screen-space faces.

    face_vertices: ``(B, F, 3, 3)`` (see :mod:`renderers.camera`; build them with
    ``gather_face_vertices(project(vertices, eye, angle), faces)``). Not differentiable.
    """
    check_device(face_vertices, "face_vertices")
    params = raster_params(image_size, None, near, far, double_sided)
    _, face_index, weights, depth = extension().rasterize_forward(
        face_vertices.contiguous(), face_vertices.new_empty(0), params
    )
    return RasterMaps(face_index.long(), weights, depth)


@register("nmr")
class NMRRenderer(Renderer):
    """``renderers.create("nmr", ...)``: see :class:`NMROptions` and the module docstring."""

    Options = NMROptions
    texture_kinds = ("vertex", "surface", "volume")

    def rasterize(
        self, face_vertices: torch.Tensor, face_colors: torch.Tensor | None, kind: str, mesh: Mesh | None = None
    ) -> torch.Tensor:
        opts = self.options
        return render_supersampled(
            lambda size: hard_rasterize(
                face_vertices,
                face_colors,
                size,
                kind,
                near=opts.near,
                far=opts.far,
                eps=opts.eps,
                double_sided=opts.double_sided,
                background=opts.background,
            ),
            opts.image_size,
            opts.anti_aliasing,
        )
