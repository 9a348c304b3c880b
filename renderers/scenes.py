"""Small scenes with known structure, shared by the tests, the figures and the benchmarks.

All in float64: world meshes ``(V, 3)`` with faces ``(F, 3)``, or screen-space faces
``(1, F, 3, 3)`` (see :mod:`renderers.camera` for the conventions).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["bumpy_sphere", "random_triangles", "box_filtered"]


def bumpy_sphere(subdivisions: int = 2, radius: float = 0.35, seed: int = 0, bumps: float = 0.15):
    """An icosphere with its radius perturbed per vertex by up to +-bumps/2 (folds inside its
    silhouette as well as on it): ``vertices (V, 3)``, ``faces (F, 3)`` outward counter-clockwise."""
    import trimesh  # noqa: PLC0415

    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    gen = torch.Generator().manual_seed(seed)
    scale = 1 + bumps * (torch.rand(len(mesh.vertices), 1, generator=gen, dtype=torch.float64) - 0.5)
    return torch.tensor(mesh.vertices) * scale, torch.tensor(mesh.faces)


def random_triangles(count: int, seed: int = 0, depth: float = 2.0) -> list[torch.Tensor]:
    """``count`` screen-space triangles ``(1, 1, 3, 3)`` around the image centre, 0.35-0.55 NDC from
    their centre to each corner, at a constant depth (facing the camera)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        centre = (torch.rand(2, generator=gen, dtype=torch.float64) - 0.5) * 0.4
        angles = torch.rand(1, generator=gen, dtype=torch.float64) * 6.28 + torch.tensor(
            [0.0, 2.1, 4.2], dtype=torch.float64) + (torch.rand(3, generator=gen, dtype=torch.float64) - 0.5)
        radii = 0.35 + 0.2 * torch.rand(3, generator=gen, dtype=torch.float64)
        xy = torch.stack((centre[0] + radii * torch.cos(angles), centre[1] + radii * torch.sin(angles)), -1)
        out.append(torch.cat((xy, torch.full((3, 1), depth, dtype=torch.float64)), -1)[None, None])
    return out


def box_filtered(face_vertices: torch.Tensor, face_colors: torch.Tensor | None, size: int, kind: str = "surface",
                 factor: int = 16) -> torch.Tensor:
    """The box-filtered (antialiased) image ``(B, 4, S, S)`` of screen-space faces: the exact
    rasterizer at ``factor`` times the size, averaged over ``factor x factor`` blocks."""
    from .nmr import hard_rasterize  # noqa: PLC0415

    return F.avg_pool2d(hard_rasterize(face_vertices, face_colors, size * factor, kind), factor)
