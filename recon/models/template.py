"""The template mesh every prediction deforms: a unit icosphere, and its topology.

A subdivision-3 icosphere has exactly 642 vertices and 1280 faces (REFERENCE section 3).
Faces are wound so that their right-hand-rule normals point outward, which makes every
face seen from outside a front face in the renderers' convention (:mod:`renderers.camera`).
"""
from __future__ import annotations

import math

import torch

__all__ = ["icosphere", "mesh_edges", "interior_edge_quads"]


def _icosahedron() -> tuple[list[tuple[float, float, float]], list[tuple[int, int, int]]]:
    t = (1.0 + math.sqrt(5.0)) / 2.0
    vertices = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t),
                (0, -1, -t), (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4),
             (11, 10, 2), (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8),
             (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    return [tuple(float(c) for c in v) for v in vertices], faces


def icosphere(subdivisions: int = 3, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """A radius-1 icosphere: ``vertices (V, 3)``, ``faces (F, 3)`` int64, outward winding.

    ``V = 10 * 4**n + 2`` and ``F = 20 * 4**n``: 642 and 1280 for ``n = 3``.
    """
    if subdivisions < 0:
        raise ValueError(f"subdivisions must be >= 0, got {subdivisions}")
    verts, faces = _icosahedron()
    vertices = [list(v) for v in verts]
    for _ in range(subdivisions):
        midpoint: dict[tuple[int, int], int] = {}

        def middle(a: int, b: int) -> int:
            key = (min(a, b), max(a, b))
            if key not in midpoint:
                midpoint[key] = len(vertices)
                vertices.append([(vertices[a][k] + vertices[b][k]) / 2.0 for k in range(3)])
            return midpoint[key]

        refined = []
        for a, b, c in faces:
            ab, bc, ca = middle(a, b), middle(b, c), middle(c, a)
            refined += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = refined
    v = torch.tensor(vertices, dtype=torch.float64)
    v = v / v.norm(dim=1, keepdim=True)
    f = torch.tensor(faces, dtype=torch.int64)
    # Orient every face outward (right-hand normal along the face centre).
    tri = v[f]
    normal = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=1)
    inward = (normal * tri.mean(1)).sum(1) < 0
    f[inward] = f[inward][:, [0, 2, 1]]
    return v.to(dtype), f


def mesh_edges(faces: torch.Tensor) -> torch.Tensor:
    """Unique undirected edges ``(E, 2)`` int64 (smaller index first, sorted)."""
    pairs = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]).sort(dim=1).values
    return torch.unique(pairs, dim=0)


def interior_edge_quads(faces: torch.Tensor) -> torch.Tensor:
    """For every edge shared by exactly two faces: ``(E, 4)`` = (v0, v1, a, b), the edge's
    endpoints and the vertex opposite to it in each of the two faces."""
    faces = faces.long()
    corners = []
    for i in range(3):
        v0, v1, opp = faces[:, i], faces[:, (i + 1) % 3], faces[:, (i + 2) % 3]
        corners.append(torch.stack([torch.minimum(v0, v1), torch.maximum(v0, v1), opp], 1))
    half = torch.cat(corners)
    order = torch.argsort(half[:, 0] * (int(faces.max()) + 1) + half[:, 1], stable=True)
    half = half[order]
    same = (half[1:, :2] == half[:-1, :2]).all(1)
    if len(same) == 0:
        return faces.new_zeros(0, 4)
    # An edge shared by exactly two faces: consecutive equal keys, not part of a longer run.
    start = torch.nonzero(same).flatten()
    before = torch.cat([same.new_zeros(1), same])[start]
    after = torch.cat([same, same.new_zeros(1)])[start + 1]
    start = start[~before & ~after]
    return torch.cat([half[start, :2], half[start, 2:3], half[start + 1, 2:3]], 1)
