"""Writing predicted meshes as obj, ply or glb (trimesh), atomically
(:func:`recon.atomic_io.write_bytes_atomic`: readers never see a half-written file)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from recon.atomic_io import write_bytes_atomic

__all__ = ["MESH_FORMATS", "save_mesh", "to_trimesh"]

MESH_FORMATS = ("obj", "ply", "glb")


def _numpy(x: torch.Tensor | np.ndarray | None) -> np.ndarray | None:
    if x is None:
        return None
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def to_trimesh(vertices, faces, colors=None):
    """``vertices (V, 3)``, ``faces (F, 3)``, ``colors (V, 3)`` in [0, 1] or None -> ``trimesh.Trimesh``
    (vertex order and count kept: no merging or cleanup)."""
    import trimesh  # noqa: PLC0415

    v, f, c = _numpy(vertices), _numpy(faces), _numpy(colors)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"vertices must have shape (V, 3), got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"faces must have shape (F, 3), got {f.shape}")
    vertex_colors = None
    if c is not None:
        if c.shape != v.shape:
            raise ValueError(f"colors must have shape (V, 3) = {v.shape}, got {c.shape}")
        rgb = (np.clip(c, 0.0, 1.0) * 255.0).round().astype(np.uint8)
        vertex_colors = np.concatenate([rgb, np.full((len(rgb), 1), 255, np.uint8)], 1)
    return trimesh.Trimesh(vertices=v.astype(np.float64), faces=f.astype(np.int64),
                           vertex_colors=vertex_colors, process=False)


def save_mesh(path: str | os.PathLike, vertices, faces, colors=None) -> Path:
    """Writes the mesh to ``path`` (format from its suffix: .obj, .ply or .glb) atomically:
    a temporary file in the same folder, renamed into place when complete."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in MESH_FORMATS:
        raise ValueError(f"unsupported mesh format {path.suffix!r}; use one of {', '.join('.' + f for f in MESH_FORMATS)}")
    mesh = to_trimesh(vertices, faces, colors)
    data = mesh.export(file_type=fmt)
    if isinstance(data, str):
        data = data.encode()
    return write_bytes_atomic(path, data)
