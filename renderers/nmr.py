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
import torch.nn.functional as F

from ._ext import check_device, extension
from .base import Mesh, RenderOptions, Renderer
from .registry import register

__all__ = ["NMROptions", "NMRRenderer", "RasterMaps", "hard_rasterize", "rasterize_maps", "TEXTURE_TYPES"]

#: kernel texture codes, as in renderers/csrc/rasterize/rasterize.h
TEXTURE_TYPES = {"surface": 0, "vertex": 1, "volume": 2, None: 3}


@dataclasses.dataclass
class NMROptions(RenderOptions):
    """NMR options with the reference defaults.

    near, far: depth range of drawn surface points.
    eps: minimum displacement (NDC units) of the approximate gradient.
    anti_aliasing: rasterize at 2x the size, then average 2x2 blocks.
    double_sided: render back faces too.
    """

    near: float = 0.1
    far: float = 100.0
    eps: float = 1e-3
    anti_aliasing: bool = True
    double_sided: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not float(self.near) < float(self.far):
            raise ValueError(f"near must be smaller than far, got near={self.near!r}, far={self.far!r}")
        if not float(self.eps) > 0.0:
            raise ValueError(f"eps must be positive, got {self.eps!r}")


def kernel_params(
    image_size: int,
    near: float = 0.1,
    far: float = 100.0,
    eps: float = 1e-3,
    double_sided: bool = True,
    kind: str | None = None,
    background=(0.0, 0.0, 0.0),
):
    """The compiled kernels' parameter struct (``image_size`` is the rasterization size)."""
    if kind not in TEXTURE_TYPES:
        raise ValueError(f"unknown texture kind {kind!r}; expected one of 'surface', 'vertex', 'volume' or None")
    params = extension().RasterizeParams()
    params.image_size = int(image_size)
    params.near = float(near)
    params.far = float(far)
    params.eps = float(eps)
    params.texture_type = TEXTURE_TYPES[kind]
    params.double_sided = bool(double_sided)
    params.background = [float(c) for c in background]
    return params


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
) -> torch.Tensor:
    """Differentiable hard rasterization at ``image_size`` (no anti-aliasing).

    face_vertices: ``(B, F, 3, 3)`` per face, per corner ``(x_ndc, y_ndc, z)``.
    face_colors: ``None`` (silhouette only), ``(B, F, R*R, 3)`` ("surface"), ``(B, F, 3, 3)``
        ("vertex") or ``(B, F, N**3, 3)`` ("volume").
    Returns ``(B, 4, S, S)`` RGBA.
    """
    check_device(face_vertices, "face_vertices")
    if face_colors is None:
        kind, face_colors = None, face_vertices.new_empty(0)
    elif face_colors.device != face_vertices.device:
        raise ValueError(f"face colours are on {face_colors.device} but face vertices on {face_vertices.device}")
    params = kernel_params(image_size, near, far, eps, double_sided, kind, background)
    return _HardRasterize.apply(face_vertices.contiguous(), face_colors.contiguous(), params)


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
    params = kernel_params(image_size, near, far, 1e-3, double_sided, None)
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
        scale = 2 if opts.anti_aliasing else 1
        image = hard_rasterize(
            face_vertices,
            face_colors,
            opts.image_size * scale,
            kind,
            near=opts.near,
            far=opts.far,
            eps=opts.eps,
            double_sided=opts.double_sided,
            background=opts.background,
        )
        return F.avg_pool2d(image, 2) if scale == 2 else image
