"""Soft Rasterizer (Liu et al. 2019) on the compiled CPU/CUDA kernels.

Every face contributes to every pixel near it through ``D = sigmoid(delta d^2 / sigma)``
(REFERENCE section 5); colours are blended by a depth softmax. Faces whose coverage would
be below ``dist_eps`` are skipped, which makes the renderer local and fast. Gradients are
analytic (C++/CUDA) for the screen-space vertices and the textures.

Choices where the reference implementation is silent or inconsistent, made once here:

* ``aggr_alpha="sum"`` divides by the number of faces, as the reference code does.
* ``double_sided=False`` removes back faces from the silhouette too, not only from colour.
* Surface texels are clamped to the grid (the reference indexes past it at w = 1).
* The background enters the softmax with weight ``exp(eps / gamma)`` exactly as the formula
  states (the reference code effectively uses ``exp(2 eps / gamma)``).
* The colour path is differentiated fully, including through the barycentric coordinates
  used for depth and vertex-colour interpolation (the reference keeps them constant).
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ._ext import check_device, extension, option_enum
from .base import Mesh, RenderOptions, Renderer, _choice, check_depth_range, check_positive
from .registry import register

__all__ = ["SoftRasOptions", "SoftRasRenderer", "soft_rasterize"]

# The options' choices: the names of the compiled ops' bound enums (SoftDistance, ...; a test
# keeps them equal), checked here so that options fail early, when they are made.
DIST_FUNCS = ("euclidean", "barycentric")
ALPHA_AGGREGATIONS = ("prod", "sum", "hard")
RGB_AGGREGATIONS = ("softmax", "hard")
TEXTURE_KINDS = ("surface", "vertex")


@dataclasses.dataclass
class SoftRasOptions(RenderOptions):
    """SoftRas options with the reference defaults (reconstruction uses sigma 1e-4, dist_eps 1e-10).

    sigma: sharpness of the coverage sigmoid, in squared NDC units.
    gamma: temperature of the depth softmax.
    dist_eps: coverage below which a face is skipped at a pixel.
    near, far: depth range kept by the colour aggregation; faces with a corner nearer than
        ``near`` are not drawn at all (the near-plane policy of every renderer); ``far`` is finite.
    eps: normalised depth of the background in the softmax.
    dist_func: "euclidean" (squared distance to the boundary) or "barycentric".
    aggr_alpha: "prod" (1 - prod(1 - D)), "sum" or "hard".
    aggr_rgb: "softmax" or "hard" (z-buffer).
    double_sided: render back faces too.
    """

    sigma: float = 1e-5
    gamma: float = 1e-4
    dist_eps: float = 1e-4
    near: float = 1.0
    far: float = 100.0
    eps: float = 1e-3
    dist_func: str = "euclidean"
    aggr_alpha: str = "prod"
    aggr_rgb: str = "softmax"
    double_sided: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "sigma", "gamma")
        if not 0.0 < float(self.dist_eps) < 0.5:
            raise ValueError(f"dist_eps must be in (0, 0.5), got {self.dist_eps!r}")
        check_depth_range(self.near, self.far, finite_far=True)  # far normalises the depth softmax
        if not math.isfinite(float(self.eps)):
            raise ValueError(f"eps must be finite, got {self.eps!r}")
        _choice(self.dist_func, DIST_FUNCS, "dist_func")
        _choice(self.aggr_alpha, ALPHA_AGGREGATIONS, "aggr_alpha")
        _choice(self.aggr_rgb, RGB_AGGREGATIONS, "aggr_rgb")


def kernel_params(options: SoftRasOptions, kind: str, silhouette_only: bool, emulate_cuda: bool = False):
    """The compiled kernels' parameter struct for these options (``emulate_cuda``: run the CUDA
    launch sequence serially on CPU tensors, for tests)."""
    params = extension().SoftRasParams()
    params.image_size = int(options.image_size)
    params.sigma = float(options.sigma)
    params.gamma = float(options.gamma)
    params.dist_eps = float(options.dist_eps)
    params.near = float(options.near)
    params.far = float(options.far)
    params.eps = float(options.eps)
    params.dist_func = option_enum("SoftDistance", options.dist_func)
    params.aggr_alpha = option_enum("SoftAlphaAggregation", options.aggr_alpha)
    params.aggr_rgb = option_enum("SoftRgbAggregation", "none" if silhouette_only else options.aggr_rgb)
    params.texture_type = option_enum("SoftTextureType", kind)
    params.double_sided = bool(options.double_sided)
    params.background = [float(c) for c in options.background]
    params.emulate_cuda = bool(emulate_cuda)
    return params


class _SoftRasterize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, face_vertices: torch.Tensor, textures: torch.Tensor, params) -> torch.Tensor:
        image, aux = extension().soft_rasterize_forward(face_vertices, textures, params)
        ctx.save_for_backward(face_vertices, textures, image, aux)
        ctx.params = params
        return image

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_image: torch.Tensor):
        face_vertices, textures, image, aux = ctx.saved_tensors
        grad_faces, grad_textures = extension().soft_rasterize_backward(
            face_vertices, textures, image, aux, grad_image.contiguous(), ctx.params
        )
        return grad_faces, (grad_textures if ctx.needs_input_grad[1] else None), None


def soft_rasterize(
    face_vertices: torch.Tensor,
    face_colors: torch.Tensor | None,
    options: SoftRasOptions,
    kind: str = "surface",
    emulate_cuda: bool = False,
) -> torch.Tensor:
    """Differentiable SoftRas of screen-space faces.

    face_vertices: ``(B, F, 3, 3)`` per face, per corner ``(x_ndc, y_ndc, z)``.
    face_colors: ``None`` (silhouette only), ``(B, F, R*R, 3)`` (kind "surface") or
        ``(B, F, 3, 3)`` (kind "vertex").
    emulate_cuda: run the CUDA launch sequence (soft_rasterize_launch.h) serially on CPU tensors,
        forward and backward, for tests on machines without a GPU.
    Returns ``(B, 4, S, S)``.
    """
    check_device(face_vertices, "face_vertices")
    silhouette_only = face_colors is None
    if silhouette_only:
        face_colors = face_vertices.new_empty(0)
    elif face_colors.device != face_vertices.device:
        raise ValueError(f"face colours are on {face_colors.device} but face vertices on {face_vertices.device}")
    params = kernel_params(options, kind, silhouette_only, emulate_cuda)
    return _SoftRasterize.apply(face_vertices.contiguous(), face_colors.contiguous(), params)


@register("softras")
class SoftRasRenderer(Renderer):
    """``renderers.create("softras", ...)``: see :class:`SoftRasOptions`."""

    Options = SoftRasOptions

    def rasterize(
        self, face_vertices: torch.Tensor, face_colors: torch.Tensor | None, kind: str, mesh: Mesh | None = None
    ) -> torch.Tensor:
        return soft_rasterize(face_vertices, face_colors, self.options, kind)
