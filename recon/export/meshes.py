"""Writing predicted meshes as obj, ply or glb (trimesh), atomically.

:func:`write_bytes_atomic` is the atomic file write shared by every exporter (meshes here,
preview images in :mod:`recon.export.previews`): readers never see a half-written file.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

__all__ = ["MESH_FORMATS", "save_mesh", "to_trimesh", "write_bytes_atomic"]

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


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Writes ``data`` to ``path`` through a temporary file in the same folder, renamed into
    place (``os.replace``) once complete; creates missing parent folders. Returns the path
    (mode 0644)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes files private (0600): give exports the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
