"""Rendering the 24 dataset views of a coloured mesh in the dataset's image convention.

Convention (REFERENCE section 1, emulated, see datasets/README.md and
:mod:`recon.data.rgb_convention`): the shaded colour is rendered with hard rasterization at
``4x`` resolution (256x256), encoded as the dataset stores it (composited on white, RGB
inverted: the background is 0 and an object pixel holds ``1 - shaded``;
:func:`~recon.data.rgb_convention.encode_dataset_rgba`), and every channel is averaged over
4x4 blocks to 64x64. The result is an antialiased alpha and RGB equal to
``coverage * (1 - shaded)``. Stored as uint8 ``round(255 x)``.

The renderer is injected as a :data:`RenderFn` so the pipeline runs and is tested
without the compiled renderer; :func:`default_render_fn` uses ``renderers`` (SoftRas,
hard aggregation, ambient 0.5 + directional 0.5 lighting).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from recon.data.cameras import IMAGE_SIZE, NUM_VIEWS, VIEWING_ANGLE, view_eyes
from recon.data.mesh import ColoredMesh
from recon.data.rgb_convention import encode_dataset_rgba

#: ``render_fn(vertices (B,V,3) f32, faces (F,3) i64, eyes (B,3) f32, face_colors (B,F,1,3) f32)
#: -> (B,4,H,W)`` RGBA in [0,1] on a black background (alpha = coverage).
RenderFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

SUPERSAMPLE = 4
LIGHT_DIRECTION = (0.0, 1.0, 0.0)

_RENDERERS: dict[int, object] = {}


def default_render_fn(image_size: int = IMAGE_SIZE * SUPERSAMPLE) -> RenderFn:
    """A :data:`RenderFn` backed by ``renderers.create('softras', ...)`` with hard
    aggregation at ``image_size`` (created once per process)."""
    if image_size not in _RENDERERS:
        try:
            import renderers  # noqa: PLC0415
        except ImportError as exc:  # pragma: no cover - depends on the build
            raise RuntimeError("the `renderers` package (compiled SoftRas) is needed to render "
                               f"dataset views: {exc}") from exc
        _RENDERERS[image_size] = renderers.create(
            "softras", image_size=image_size, viewing_angle=VIEWING_ANGLE, sigma=1e-6,
            aggr_alpha="hard", aggr_rgb="hard", background=(0.0, 0.0, 0.0),
            light_intensity_ambient=0.5, light_intensity_directional=0.5,
            light_direction=LIGHT_DIRECTION, dist_eps=1e-4)
    r = _RENDERERS[image_size]

    def render(vertices, faces, eyes, face_colors):
        with torch.no_grad():
            return r(vertices, faces, eyes, textures=face_colors)

    return render


def compose_dataset_images(rgba: torch.Tensor, supersample: int = SUPERSAMPLE,
                           invert_rgb: bool = True) -> torch.Tensor:
    """``(B,4,sH,sW)`` hard render on black (straight colour, alpha = coverage) -> ``(B,4,H,W)``
    float in the dataset convention (:func:`recon.data.rgb_convention.encode_dataset_rgba` of
    the colour on black ``rgb * alpha``), then ``supersample`` average pooling.
    ``invert_rgb=False`` keeps the colour composited on white instead (``1 - stored rgb``), an
    alternative convention."""
    alpha = rgba[:, 3:4].clamp(0, 1)
    out = encode_dataset_rgba(rgba[:, :3] * alpha, alpha)
    if not invert_rgb:
        out = torch.cat([1.0 - out[:, :3], alpha], 1)
    if supersample > 1:
        out = F.avg_pool2d(out, supersample)
    return out.clamp(0, 1)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    return (images * 255.0).round().clamp(0, 255).to(torch.uint8).cpu().numpy()


def render_dataset_views(mesh: ColoredMesh, render_fn: RenderFn | None = None,
                         num_views: int = NUM_VIEWS) -> np.ndarray:
    """The ``(num_views, 4, 64, 64)`` uint8 dataset images of a normalised mesh."""
    render_fn = render_fn or default_render_fn()
    eyes = view_eyes(num_views)
    v = torch.from_numpy(mesh.vertices).float().unsqueeze(0).expand(num_views, -1, -1).contiguous()
    f = torch.from_numpy(mesh.faces).long()
    tex = torch.from_numpy(mesh.face_colors).float().view(1, -1, 1, 3).expand(num_views, -1, -1, -1).contiguous()
    rgba = render_fn(v, f, eyes, tex)
    size = rgba.shape[-1]
    images = compose_dataset_images(rgba, supersample=max(1, size // IMAGE_SIZE))
    if images.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"render_fn produced {tuple(rgba.shape)}; need a multiple of 64 pixels")
    return to_uint8(images)
