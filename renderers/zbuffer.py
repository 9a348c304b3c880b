"""What the z-buffer renderers (NMR, OpenDR) share: depth options, the kernels' parameter
struct, face-colour handling and 2x supersampling."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ._ext import check_device, extension, option_enum
from .base import RenderOptions, check_depth_range

__all__ = ["ZBufferOptions", "TEXTURE_KINDS", "raster_params", "face_color_input", "render_supersampled"]

#: the texture kinds the z-buffer kernels take (None: no colour), by the names of their bound
#: enum RasterTextureType (renderers/csrc/rasterize/rasterize.h)
TEXTURE_KINDS = ("surface", "vertex", "volume", None)


@dataclasses.dataclass
class ZBufferOptions(RenderOptions):
    """near, far: depth range of drawn surface points (``far`` may be ``inf``); faces with a corner
    nearer than ``near`` are not drawn at all (the near-plane policy of every renderer).
    double_sided: render back faces too."""

    near: float = 0.1
    far: float = 100.0
    double_sided: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_depth_range(self.near, self.far, finite_far=False)


def raster_params(
    image_size: int,
    kind: str | None,
    near: float = 0.1,
    far: float = 100.0,
    double_sided: bool = True,
    background=(0.0, 0.0, 0.0),
    eps: float = 1e-3,
    params=None,
):
    """Fills the kernels' ``RasterizeParams`` (or ``params``, e.g. an ``OpenDRParams``);
    ``image_size`` is the rasterization size, ``kind`` one of :data:`TEXTURE_KINDS`."""
    if kind not in TEXTURE_KINDS:
        raise ValueError(f"unknown texture kind {kind!r}; expected one of 'surface', 'vertex', 'volume' or None")
    params = extension().RasterizeParams() if params is None else params
    params.image_size = int(image_size)
    params.near = float(near)
    params.far = float(far)
    params.eps = float(eps)
    params.texture_type = option_enum("RasterTextureType", "none" if kind is None else kind)
    params.double_sided = bool(double_sided)
    params.background = [float(c) for c in background]
    return params


def face_color_input(
    face_vertices: torch.Tensor, face_colors: torch.Tensor | None, kind: str
) -> tuple[torch.Tensor, str | None]:
    """Checks the device and returns the kernels' texture tensor and kind: an empty tensor and
    ``None`` for silhouettes (``face_colors is None``)."""
    check_device(face_vertices, "face_vertices")
    if face_colors is None:
        return face_vertices.new_empty(0), None
    if face_colors.device != face_vertices.device:
        raise ValueError(f"face colours are on {face_colors.device} but face vertices on {face_vertices.device}")
    return face_colors.contiguous(), kind


def render_supersampled(render: Callable[[int], torch.Tensor], image_size: int, anti_aliasing: bool) -> torch.Tensor:
    """``render(size)`` at ``image_size``, or at twice the size averaged over 2x2 blocks."""
    if not anti_aliasing:
        return render(image_size)
    return F.avg_pool2d(render(2 * image_size), 2)
