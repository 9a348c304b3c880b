"""Scenes and helpers shared by the edge-sampling tests."""

from __future__ import annotations

import torch

from renderers.edge import edge_rasterize
from renderers.scenes import bumpy_sphere
from renderers.topology import edge_table

import renderers

DEPTH = 2.0


def screen(xy: torch.Tensor, depth: float = DEPTH) -> torch.Tensor:
    """``(F, 3, 2)`` screen triangles -> ``(1, F, 3, 3)`` faces at a constant depth (float64)."""
    xy = xy.to(torch.float64)
    return torch.cat((xy, torch.full((*xy.shape[:-1], 1), depth, dtype=torch.float64)), -1)[None]


def sphere_faces(subdivisions: int = 1, azimuth: float = 20.0, bumps: float = 0.15, batch: int = 1):
    """Screen-space faces ``(B, F, 3, 3)`` of a bumpy sphere (self-occluding folds) and its edge table."""
    vertices, faces = bumpy_sphere(subdivisions, bumps=bumps)
    eye = renderers.points_from_angles(2.732, 30.0, azimuth + 25.0 * torch.arange(batch, dtype=torch.float64))
    face_vertices = renderers.project_faces(vertices[None].expand(batch, -1, -1), eye, faces[None].expand(batch, -1, -1), 15.0)
    return face_vertices.detach(), edge_table(faces), faces


def seed_mean_gradient(face_vertices, face_colors, kind, weights, seeds, **options):
    """Mean over ``seeds`` of the gradient of ``sum(weights * image)`` w.r.t. the faces' screen x, y
    ``(B, F, 3, 2)``, and the per-seed gradients ``(n, B, F, 3, 2)``."""
    grads = []
    for seed in seeds:
        x = face_vertices.clone().requires_grad_(True)
        (edge_rasterize(x, face_colors, weights.shape[-1], kind, seed=seed, **options) * weights).sum().backward()
        grads.append(x.grad[..., :2])
    stacked = torch.stack(grads)
    return stacked.mean(0), stacked


def relative_error(estimate: torch.Tensor, truth: torch.Tensor) -> float:
    return float((estimate - truth).norm() / truth.norm())
