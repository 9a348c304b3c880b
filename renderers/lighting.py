"""Ambient + directional lighting (REFERENCE section 4), applied to colours before rasterizing.

``colour * (ambient_intensity * ambient_colour + directional_intensity * directional_colour
* max(0, n . direction))`` with ``n`` the unit right-hand-rule normal ``(v1 - v0) x (v2 - v0)``
of a face (surface textures) or the area-weighted average of the adjacent faces' normals
at a vertex (vertex colours). ``direction`` points from the surface towards the light, in
world coordinates; the default (0, 1, 0) lights the mesh from above.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["face_normals", "vertex_normals", "directional_light"]


def face_normals(face_vertices: torch.Tensor) -> torch.Tensor:
    """Unit normals ``(B, F, 3)`` of faces given as ``(B, F, 3, 3)`` world vertices."""
    v0, v1, v2 = face_vertices.unbind(dim=2)
    return torch.nn.functional.normalize(torch.linalg.cross(v1 - v0, v2 - v0, dim=-1), dim=-1, eps=1e-12)


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Unit normals ``(B, V, 3)``: the area-weighted sum of the normals of adjacent faces.

    ``vertices (B, V, 3)``, ``faces (B, F, 3)`` int64.
    """
    batch, num_vertices, _ = vertices.shape
    face_vertices = gather_face_vertices(vertices, faces)
    v0, v1, v2 = face_vertices.unbind(dim=2)
    weighted = torch.linalg.cross(v1 - v0, v2 - v0, dim=-1)  # length = 2 * area
    offsets = (torch.arange(batch, device=faces.device) * num_vertices)[:, None, None]
    flat_index = (faces + offsets).reshape(-1)
    summed = torch.zeros(batch * num_vertices, 3, dtype=vertices.dtype, device=vertices.device)
    summed.index_add_(0, flat_index, weighted[:, :, None, :].expand(-1, -1, 3, -1).reshape(-1, 3))
    return torch.nn.functional.normalize(summed.view(batch, num_vertices, 3), dim=-1, eps=1e-12)


def directional_light(
    normals: torch.Tensor,
    ambient_intensity: float = 0.5,
    ambient_color: Sequence[float] = (1.0, 1.0, 1.0),
    directional_intensity: float = 0.5,
    directional_color: Sequence[float] = (1.0, 1.0, 1.0),
    direction: Sequence[float] = (0.0, 1.0, 0.0),
) -> torch.Tensor:
    """Light factor ``(..., 3)`` to multiply colours by, for unit ``normals (..., 3)``."""
    ambient = normals.new_tensor(ambient_color) * ambient_intensity
    light_dir = torch.nn.functional.normalize(normals.new_tensor(direction), dim=0, eps=1e-12)
    cosine = torch.relu((normals * light_dir).sum(dim=-1, keepdim=True))
    return ambient + directional_intensity * normals.new_tensor(directional_color) * cosine


def gather_face_vertices(values: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Per-face copies ``(B, F, 3, C)`` of per-vertex ``values (B, V, C)`` for ``faces (B, F, 3)``."""
    batch, num_faces, _ = faces.shape
    num_values, channels = values.shape[1], values.shape[-1]
    offsets = torch.arange(batch, device=faces.device).view(batch, 1, 1) * num_values
    flat = values.reshape(batch * num_values, channels).index_select(0, (faces + offsets).reshape(-1))
    return flat.view(batch, num_faces, 3, channels)
