"""Small scenes with known structure, shared by the tests, the figures and the benchmarks.

All in float64: world meshes ``(V, 3)`` with faces ``(F, 3)``, or screen-space faces
``(1, F, 3, 3)`` (see :mod:`renderers.camera` for the conventions).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .camera import points_from_angles

__all__ = ["bumpy_sphere", "random_triangles", "box_filtered", "sphere_over_ground", "tent"]


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


_GROUND = torch.tensor([[-0.8, -0.45, -0.8], [-0.8, -0.45, 0.8], [0.8, -0.45, 0.8], [0.8, -0.45, -0.8]],
                      dtype=torch.float64)


def sphere_over_ground(batch: int = 2, subdivisions: int = 1) -> dict:
    """A bumpy sphere hovering over a ground quad (normal +y), per-vertex colours, lit at an angle:
    it shadows the ground and itself. ``vertices (B, V, 3)``, ``faces (F, 3)``, ``eye (B, 3)``,
    ``textures (B, V, 3)``, ``direction (B, 3)`` (per image, so that the batch's lights differ),
    ``sphere``: the number of sphere vertices (listed first). The scene of the shadow tests and of
    the self-shadow rows of ``scripts/bench_gradients.py``."""
    sphere_v, sphere_f = bumpy_sphere(subdivisions=subdivisions, radius=0.3, seed=3, bumps=0.12)
    sphere_v = sphere_v.to(torch.float64) + torch.tensor([0.0, 0.05, 0.0], dtype=torch.float64)
    vertices = torch.cat((sphere_v, _GROUND))
    offset = sphere_v.shape[0]
    faces = torch.cat((sphere_f.long(), torch.tensor([[0, 1, 2], [0, 2, 3]]) + offset))
    gen = torch.Generator().manual_seed(5)
    textures = 0.3 + 0.7 * torch.rand(batch, vertices.shape[0], 3, generator=gen, dtype=torch.float64)
    eye = points_from_angles(2.732, torch.tensor([35.0, 25.0][:batch]), torch.tensor([20.0, -40.0][:batch]))
    direction = torch.tensor([[0.5, 1.0, 0.3], [-0.4, 1.0, 0.5]][:batch], dtype=torch.float64)
    return dict(vertices=vertices[None].expand(batch, -1, -1).clone(), faces=faces, eye=eye.double(),
                textures=textures, direction=direction, sphere=offset)


def tent() -> dict:
    """Two slopes of a roof meeting at a ridge along x (open mesh, 4 faces, normals up), white
    vertex colours, seen from above at an angle: lit from the -z side the near slope faces the
    light and the far slope, turned away, lies in its shadow, while its vertex-interpolated
    directional part stays positive near the ridge. The light's visibility jumps across the
    ridge (the terminator), where the colours are continuous. ``vertices (1, 6, 3)``,
    ``faces (4, 3)``, ``eye (1, 3)``, ``textures (1, 6, 3)``."""
    vertices = torch.tensor([[-0.4, 0.1, 0.0], [0.4, 0.1, 0.0], [0.4, -0.2, -0.5], [-0.4, -0.2, -0.5],
                             [0.4, -0.2, 0.5], [-0.4, -0.2, 0.5]], dtype=torch.float64)[None]
    faces = torch.tensor([[0, 1, 2], [0, 2, 3], [1, 0, 5], [1, 5, 4]])
    corners = vertices[0][faces]
    normals = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    faces = torch.where((normals[:, 1] < 0)[:, None], faces.flip(1), faces)
    eye = points_from_angles(2.732, 55.0, 25.0)[None].double()
    return dict(vertices=vertices, faces=faces, eye=eye, textures=torch.ones_like(vertices))
