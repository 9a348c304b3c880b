"""A minimal coloured triangle mesh and the ShapeNet-style normalisation."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ColoredMesh:
    """``vertices (V,3)`` float32, ``faces (F,3)`` int64, ``face_colors (F,3)`` float32 in [0,1]."""

    vertices: np.ndarray
    faces: np.ndarray
    face_colors: np.ndarray

    def __post_init__(self) -> None:
        self.vertices = np.asarray(self.vertices, dtype=np.float32).reshape(-1, 3)
        self.faces = np.asarray(self.faces, dtype=np.int64).reshape(-1, 3)
        self.face_colors = np.asarray(self.face_colors, dtype=np.float32).reshape(-1, 3)
        if len(self.face_colors) != len(self.faces):
            raise ValueError(f"{len(self.face_colors)} face colours for {len(self.faces)} faces")

    @staticmethod
    def concatenate(parts: list["ColoredMesh"]) -> "ColoredMesh":
        verts, faces, cols, n = [], [], [], 0
        for p in parts:
            verts.append(p.vertices)
            faces.append(p.faces + n)
            cols.append(p.face_colors)
            n += len(p.vertices)
        return ColoredMesh(np.concatenate(verts), np.concatenate(faces), np.concatenate(cols))


def normalize_vertices(vertices: np.ndarray) -> np.ndarray:
    """Centre the bounding box at the origin and scale its largest side to 1
    (coordinates in [-0.5, 0.5]), as the ShapeNet renders are. ``(V,3) -> (V,3)`` float32."""
    v = np.asarray(vertices, dtype=np.float64)
    lo, hi = v.min(0), v.max(0)
    extent = float((hi - lo).max())
    if not np.isfinite(extent) or extent <= 0:
        raise ValueError("cannot normalise a mesh with an empty or degenerate bounding box")
    return ((v - (lo + hi) / 2) / extent).astype(np.float32)


def normalize_mesh(mesh: ColoredMesh) -> ColoredMesh:
    return ColoredMesh(normalize_vertices(mesh.vertices), mesh.faces, mesh.face_colors)
