"""Edge sampling (Li et al. 2018, "redner"), primary visibility, on the compiled CPU/CUDA kernels.

The forward is the **box-filtered** image: each pixel the mean of the scene over its area,
estimated with ``samples_per_pixel`` stratified (jittered) area samples, each taking the shading
of the nearest face covering that exact point (or the background). The backward is an unbiased
Monte Carlo estimate of that image's gradient (REFERENCE section 8; the derivation is in the
README, "Edge sampling"):

* **interior term**: the derivative of the shading at the area samples (perspective-correct
  barycentric interpolation of the lit per-corner colours) with respect to the screen vertices,
  depths and colours; lighting is differentiated by autograd before rasterizing, as for every
  renderer;
* **boundary term**: ``edge_samples`` points per image on the edges whose two sides can differ
  (border edges, edges between faces facing opposite ways from the camera, edges between a drawn
  and an undrawn face and, with colours, edges whose colours differ across them), chosen in
  proportion to their screen-clipped lengths and stratified along the concatenated edges. At a
  point with parameter t on edge (a, b) and unit screen normal n, the shading is evaluated
  ``offset`` pixels either side, and the endpoints receive
  ``adj(p) . (f_in - f_out) * n * l_clip / (pmf * A_pix * N)`` weighted by ``1 - t`` (a) and
  ``t`` (b). Occluded edge points contribute nothing.

**Shadows** (``shadows=True``; Li et al. 2018's secondary visibility, README "Shadows"): the
directional light term at each area sample is multiplied by the point's visibility of the light
(a shadow ray along ``light_direction``, which points toward the light; ambient stays unshadowed),
so ambient and directional parts are lit and interpolated apart. The gradient gains the
**secondary boundary term**, ``shadow_samples`` points per image on the edges that are silhouettes
seen from the light, each followed down to the surface it shadows (see
``csrc/edge/shadow_kernel.h``); it reaches the occluder's and the receiver's vertices, the light
direction and the camera. The plain-PyTorch version is :mod:`renderers.reference.shadow`.

Randomness is the package's counter-based generator (:mod:`renderers.random`): a given ``seed``
reproduces the samples exactly (bit-identical on the CPU across runs and thread counts); without
one, every call draws a fresh seed from torch's generator. Textures: per-vertex colours and one
flat colour per face; surface textures with R > 1 (and volumes) are refused, because their texel
borders are discontinuities inside faces that the boundary term does not sample. Faces that
interpenetrate create intersection edges that are not sampled either (their gradient is missed).
The plain-PyTorch version of the same estimator is :mod:`renderers.reference.edge`.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ._ext import extension
from .base import Mesh, Renderer, lit_face_colors
from .gather import gather_faces
from .lighting import light_direction
from .random import fresh_seed
from .registry import register
from .topology import edges_for
from .zbuffer import ZBufferOptions, face_color_input, raster_params

__all__ = ["EdgeOptions", "EdgeRenderer", "edge_rasterize", "edge_shadow_rasterize", "DEFAULT_OFFSET",
           "DEFAULT_SHADOW_BIAS"]

#: evaluation offset either side of an edge, in pixels
DEFAULT_OFFSET = 1e-3
#: shadow rays ignore faces less than this far above their origin, relative to the scene's extent
DEFAULT_SHADOW_BIAS = 1e-5


def _samples_per_side(samples_per_pixel: int) -> int:
    side = math.isqrt(int(samples_per_pixel)) if int(samples_per_pixel) > 0 else 0
    if isinstance(samples_per_pixel, bool) or side * side != samples_per_pixel or not 1 <= side <= 8:
        raise ValueError(f"samples_per_pixel must be a square number from 1 to 64 (n x n strata), got {samples_per_pixel!r}")
    return side


@dataclasses.dataclass
class EdgeOptions(ZBufferOptions):
    """Edge-sampling options.

    samples_per_pixel: area samples per pixel, a square n*n (stratified, one per n x n cell).
    edge_samples: boundary samples per image; ``None``: one per pixel (S*S).
    offset: distance either side of an edge at which the shading is evaluated, in pixels.
    seed: ``None`` draws fresh samples every call from torch's generator; an int fixes them.
    near, far, double_sided: as for the z-buffer renderers.
    shadows: shadow the directional light (shadow rays, and the secondary boundary term).
    shadow_samples: secondary boundary samples per image; ``None``: one per pixel (S*S).
    shadow_bias: a shadow ray ignores faces less than this far above its origin, as a fraction of
        the scene's extent in the light's frame (against self-shadowing acne).
    """

    samples_per_pixel: int = 4
    edge_samples: int | None = None
    offset: float = DEFAULT_OFFSET
    seed: int | None = None
    shadows: bool = False
    shadow_samples: int | None = None
    shadow_bias: float = DEFAULT_SHADOW_BIAS

    def __post_init__(self) -> None:
        super().__post_init__()
        _samples_per_side(self.samples_per_pixel)
        if self.edge_samples is not None and (isinstance(self.edge_samples, bool) or int(self.edge_samples) < 0):
            raise ValueError(f"edge_samples must be a non-negative integer or None, got {self.edge_samples!r}")
        if not 0.0 < float(self.offset) <= 0.5:
            raise ValueError(f"offset must be in (0, 0.5] pixels, got {self.offset!r}")
        if not isinstance(self.shadows, bool):
            raise ValueError(f"shadows must be True or False, got {self.shadows!r}")
        if self.shadow_samples is not None and (isinstance(self.shadow_samples, bool) or int(self.shadow_samples) < 0):
            raise ValueError(f"shadow_samples must be a non-negative integer or None, got {self.shadow_samples!r}")
        if not 0.0 <= float(self.shadow_bias) < 1.0:
            raise ValueError(f"shadow_bias (a fraction of the scene's extent) must be in [0, 1), got {self.shadow_bias!r}")


def kernel_params(
    image_size: int,
    kind: str | None,
    *,
    samples_per_pixel: int = 4,
    edge_samples: int | None = None,
    seed: int = 0,
    offset: float = DEFAULT_OFFSET,
    near: float = 0.1,
    far: float = 100.0,
    double_sided: bool = True,
    background=(0.0, 0.0, 0.0),
    emulate_cuda: bool = False,
    shadow_samples: int | None = None,
    shadow_bias: float = DEFAULT_SHADOW_BIAS,
):
    """The compiled kernels' ``EdgeParams``."""
    params = raster_params(image_size, kind, near, far, double_sided, background, params=extension().EdgeParams())
    params.samples_per_side = _samples_per_side(samples_per_pixel)
    params.edge_samples = int(image_size) ** 2 if edge_samples is None else int(edge_samples)
    params.seed = int(seed) & ((1 << 63) - 1)
    params.offset = float(offset)
    params.emulate_cuda = bool(emulate_cuda)
    params.shadow_samples = int(image_size) ** 2 if shadow_samples is None else int(shadow_samples)
    params.shadow_bias = float(shadow_bias)
    return params


class _EdgeRasterize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, face_vertices: torch.Tensor, textures: torch.Tensor, edges: torch.Tensor, params) -> torch.Tensor:
        image, sample_face = extension().edge_forward(face_vertices, textures, params)
        ctx.save_for_backward(face_vertices, textures, edges, sample_face)
        ctx.params = params
        return image

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_image: torch.Tensor):
        face_vertices, textures, edges, sample_face = ctx.saved_tensors
        grad_faces, grad_textures = extension().edge_backward(
            face_vertices, textures, edges, sample_face, grad_image.contiguous(), ctx.params
        )
        return grad_faces, (grad_textures if ctx.needs_input_grad[1] else None), None, None


class _EdgeShadowRasterize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, face_vertices, ambient, directional, world, light, edges, params):
        image, sample_face, sample_lit = extension().edge_shadow_forward(
            face_vertices, ambient, directional, world, light, params)
        ctx.save_for_backward(face_vertices, ambient, directional, world, light, edges, sample_face, sample_lit)
        ctx.params = params
        return image

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_image: torch.Tensor):
        face_vertices, ambient, directional, world, light, edges, sample_face, sample_lit = ctx.saved_tensors
        grads = extension().edge_shadow_backward(face_vertices, ambient, directional, world, light, edges,
                                                  sample_face, sample_lit, grad_image.contiguous(), ctx.params)
        return (*(g if needed else None for g, needed in zip(grads, ctx.needs_input_grad)), None, None)


def edge_shadow_rasterize(
    face_vertices: torch.Tensor,
    ambient: torch.Tensor,
    directional: torch.Tensor,
    world: torch.Tensor,
    light: torch.Tensor,
    image_size: int,
    kind: str = "surface",
    *,
    edges: torch.Tensor | None = None,
    seed: int | None = None,
    shadow_samples: int | None = None,
    shadow_bias: float = DEFAULT_SHADOW_BIAS,
    **options,
) -> torch.Tensor:
    """Edge-sampled rendering with shadows from the directional light: ``(B, 4, S, S)`` RGBA.

    face_vertices: ``(B, F, 3, 3)`` screen corners, as for :func:`edge_rasterize`.
    ambient, directional: ``(B, F, 1, 3)`` ("surface") or ``(B, F, 3, 3)`` ("vertex"): the two parts
        of the lit colours (:func:`renderers.base.lit_face_colors` with ``parts=True``); a point
        shows ``ambient + visibility * directional``.
    world: ``(B, F, 3, 3)`` the faces' world corners; light: ``(B, 3)`` direction toward the light
    (normalised here).
    shadow_samples, shadow_bias: see :class:`EdgeOptions`; ``options``: those of :func:`edge_rasterize`
    (samples_per_pixel, edge_samples, offset, near, far, double_sided, background, emulate_cuda).
    The gradient reaches all five (the secondary term: world, light and the screen corners).
    """
    light = torch.nn.functional.normalize(light, dim=-1, eps=1e-12) if light.dim() == 2 else light
    textures, kind = face_color_input(face_vertices, ambient, kind)
    directional, _ = face_color_input(face_vertices, directional, kind)
    edges = edges_for(face_vertices, edges)
    params = kernel_params(image_size, kind, seed=fresh_seed() if seed is None else seed,
                           shadow_samples=shadow_samples, shadow_bias=shadow_bias, **options)
    return _EdgeShadowRasterize.apply(face_vertices.contiguous(), textures, directional.contiguous(),
                                      world.contiguous(), light.contiguous(), edges, params)


def edge_rasterize(
    face_vertices: torch.Tensor,
    face_colors: torch.Tensor | None,
    image_size: int,
    kind: str = "surface",
    *,
    edges: torch.Tensor | None = None,
    samples_per_pixel: int = 4,
    edge_samples: int | None = None,
    seed: int | None = None,
    offset: float = DEFAULT_OFFSET,
    near: float = 0.1,
    far: float = 100.0,
    double_sided: bool = True,
    background=(0.0, 0.0, 0.0),
    emulate_cuda: bool = False,
) -> torch.Tensor:
    """Differentiable edge-sampled rendering of screen-space faces: ``(B, 4, S, S)`` RGBA.

    face_vertices: ``(B, F, 3, 3)`` per face, per corner ``(x_ndc, y_ndc, z)``.
    face_colors: ``None`` (silhouette only), ``(B, F, 1, 3)`` flat colours ("surface") or
        ``(B, F, 3, 3)`` per-corner colours ("vertex").
    edges: the face list's edge table ``(E, 6)`` or ``(B, E, 6)`` (:func:`renderers.topology.edge_table`);
        ``None`` treats the faces as unconnected (every edge a border edge).
    seed: fixes the samples; ``None`` draws a fresh seed from torch's generator.
    emulate_cuda: run the CUDA launch sequence serially on CPU tensors (for tests).
    """
    textures, kind = face_color_input(face_vertices, face_colors, kind)
    edges = edges_for(face_vertices, edges)
    params = kernel_params(
        image_size,
        kind,
        samples_per_pixel=samples_per_pixel,
        edge_samples=edge_samples,
        seed=fresh_seed() if seed is None else seed,
        offset=offset,
        near=near,
        far=far,
        double_sided=double_sided,
        background=background,
        emulate_cuda=emulate_cuda,
    )
    return _EdgeRasterize.apply(face_vertices.contiguous(), textures, edges, params)


@register("edge")
class EdgeRenderer(Renderer):
    """``renderers.create("edge", ...)``: see :class:`EdgeOptions` and the module docstring."""

    Options = EdgeOptions
    texture_kinds = ("vertex", "surface")

    def _call_options(self, mesh: Mesh | None) -> dict:
        """Keyword arguments of :func:`edge_rasterize` for one call (the mesh's edges and seed)."""
        opts = self.options
        seed = mesh.seed if mesh is not None and mesh.seed is not None else opts.seed
        return dict(edges=None if mesh is None else mesh.edges, samples_per_pixel=opts.samples_per_pixel,
                    edge_samples=opts.edge_samples, seed=seed, offset=opts.offset, near=opts.near, far=opts.far,
                    double_sided=opts.double_sided, background=opts.background)

    def _rasterize_lit(self, vertices: torch.Tensor, face_screen: torch.Tensor, shading, mesh: Mesh) -> torch.Tensor:
        if not self.options.shadows:
            return super()._rasterize_lit(vertices, face_screen, shading, mesh)
        textures, kind, light = shading
        ambient, directional = lit_face_colors(vertices, mesh.faces, textures, kind, light, parts=True)
        world = gather_faces(vertices, mesh.faces, indices_checked=True)
        direction = light_direction(light["direction"], vertices.shape[0], vertices)
        return edge_shadow_rasterize(face_screen, ambient, directional, world, direction, self.options.image_size, kind,
                                     shadow_samples=self.options.shadow_samples,
                                     shadow_bias=self.options.shadow_bias, **self._call_options(mesh))

    def rasterize(
        self, face_vertices: torch.Tensor, face_colors: torch.Tensor | None, kind: str, mesh: Mesh | None = None
    ) -> torch.Tensor:
        return edge_rasterize(face_vertices, face_colors, self.options.image_size, kind, **self._call_options(mesh))
