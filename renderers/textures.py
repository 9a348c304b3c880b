"""Textures accepted by every renderer, and their conversion to per-face colour blocks.

* ``vertex``: per-vertex colours ``(B, V, 3)``, interpolated inside a face by the clipped
  barycentric coordinates. Rasterizers receive them as ``(B, F, 3, 3)`` (per face, per
  corner).
* ``surface``: per-face colours on a triangular R x R grid, ``(B, F, R*R, 3)``; R = 1 is one
  flat colour per face. The texel of barycentrics (w0, w1, w2) is
  ``(floor(w1 R), floor(w0 R))`` in the lower triangle of the grid, mirrored otherwise
  (the SoftRas layout).
* ``volume``: per-face N x N x N colour grids ``(B, F, N, N, N, 3)`` indexed by the three
  barycentrics and sampled trilinearly at ``(w0, w1, w2) * (N - 1)`` (the Neural 3D Mesh
  Renderer's textures). Rasterizers receive them flattened to ``(B, F, N**3, 3)``. Only
  renderers that list ``"volume"`` in ``Renderer.texture_kinds`` accept them.
"""

from __future__ import annotations

import math

import torch

from .checks import HostChecks, adding_to

__all__ = ["texture_kind", "check_textures"]


def texture_kind(textures: torch.Tensor) -> str:
    """``"vertex"`` for ``(B, V, 3)``, ``"surface"`` for ``(B, F, R*R, 3)``, ``"volume"`` for ``(B, F, N, N, N, 3)``."""
    return {3: "vertex", 6: "volume"}.get(textures.dim(), "surface")


def check_textures(
    textures: torch.Tensor, batch: int, num_vertices: int, num_faces: int, checks: HostChecks | None = None
) -> str:
    """Validates the textures' shape and values; returns their kind. The value check (finite) is
    added to ``checks`` (raised when the caller resolves it), or, without ``checks``, made here."""
    if not isinstance(textures, torch.Tensor):
        raise TypeError(f"textures must be a torch.Tensor, got {type(textures).__name__}")
    if not textures.is_floating_point():
        raise TypeError(f"textures must be a floating-point tensor, got {textures.dtype}")
    if textures.dim() == 3:
        if textures.shape != (batch, num_vertices, 3):
            raise ValueError(
                f"per-vertex textures must have shape (B, V, 3) = ({batch}, {num_vertices}, 3), got {tuple(textures.shape)}"
            )
    elif textures.dim() == 4:
        texels = textures.shape[2]
        if textures.shape[0] != batch or textures.shape[1] != num_faces or textures.shape[3] != 3:
            raise ValueError(
                f"per-face textures must have shape (B, F, R*R, 3) = ({batch}, {num_faces}, R*R, 3), "
                f"got {tuple(textures.shape)}"
            )
        if texels < 1 or math.isqrt(texels) ** 2 != texels:
            raise ValueError(f"per-face textures need R*R colours per face (a square number), got {texels}")
    elif textures.dim() == 6:
        res = textures.shape[2]
        if (
            textures.shape[0] != batch
            or textures.shape[1] != num_faces
            or textures.shape[5] != 3
            or res < 1
            or textures.shape[3] != res
            or textures.shape[4] != res
        ):
            raise ValueError(
                f"per-face volume textures must have shape (B, F, N, N, N, 3) = ({batch}, {num_faces}, N, N, N, 3), "
                f"got {tuple(textures.shape)}"
            )
    else:
        raise ValueError(
            "textures must be per-vertex (B, V, 3) or per-face (B, F, R*R, 3) (or, for renderers that accept "
            f"them, per-face volumes (B, F, N, N, N, 3)), got shape {tuple(textures.shape)}"
        )
    with adding_to(checks) as checks:
        checks.add([torch.isfinite(textures).all()],
                   lambda finite: None if finite else ValueError("textures contain NaN or infinite values"))
    return texture_kind(textures)
