"""Mesh topology for renderers that need it: the edges of a face list with their adjacent faces.

``edge_table(faces)`` returns, for a face list ``(F, 3)``, one row per undirected edge,
``(face_a, slot_a0, slot_a1, face_b, slot_b0, slot_b1)`` as int32: the edge joins the corners
``slot_a0`` and ``slot_a1`` of ``face_a``; ``face_b``'s corners ``slot_b0`` and ``slot_b1`` hold
the same two vertices in that order. Rules:

* an edge used by one face is a *border* edge: ``face_b = -1`` and its slots ``-1``;
* an edge used by exactly two faces gets one row with both;
* an edge used by three faces or more (non-manifold) gets one border row per face, so every one
  of its faces can draw it (renderers treat non-manifold edges as boundaries);
* rows are sorted by the edge's vertex pair (lower index first), border rows of one
  non-manifold edge by face index.

``soup_edge_table(num_faces)`` is the table of unconnected faces (every edge a border edge), what
a renderer uses for screen-space faces given without a face list.

Tables are cached per face list (keyed by the tensor's storage, version and shape, and checked
against a copy), so a training loop that renders the same template faces every step builds the
table once. For per-image face lists ``(B, F, 3)`` the result is ``(B, E, 6)``, padded with rows
of ``-1`` (a face list expanded from one ``(F, 3)`` tensor is treated as that one list).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import torch

__all__ = ["edge_table", "soup_edge_table", "edges_for", "EDGE_COLUMNS"]

EDGE_COLUMNS = ("face_a", "slot_a0", "slot_a1", "face_b", "slot_b0", "slot_b1")

_CACHE_SIZE = 16
_cache: OrderedDict[tuple, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
_lock = threading.Lock()


def _single_edge_table(faces: torch.Tensor) -> torch.Tensor:
    """The (E, 6) int32 table of one face list (F, 3) int64 (CPU)."""
    num_faces = faces.shape[0]
    if num_faces == 0:
        return torch.zeros(0, 6, dtype=torch.int32)
    corner = torch.arange(3).repeat(num_faces)  # half-edge k of a face runs from corner k to corner k+1
    face = torch.arange(num_faces).repeat_interleave(3)
    start = faces[face, corner]
    end = faces[face, (corner + 1) % 3]
    low, high = torch.minimum(start, end), torch.maximum(start, end)
    key = low * (int(faces.max()) + 1) + high
    order = torch.argsort(key, stable=True)  # by edge; half-edges were in (face, corner) order
    key, face, corner, start = key[order], face[order], corner[order], start[order]
    _, counts = torch.unique_consecutive(key, return_counts=True)
    first = torch.cumsum(counts, 0) - counts  # first half-edge of each edge
    pairs = counts == 2
    rows = []
    # Edges with two faces: one row.
    a, b = first[pairs], first[pairs] + 1
    slot_b_of_a = torch.where(start[b] == start[a], corner[b], (corner[b] + 1) % 3)
    slot_b_of_b = torch.where(start[b] == start[a], (corner[b] + 1) % 3, corner[b])
    rows.append(torch.stack((face[a], corner[a], (corner[a] + 1) % 3, face[b], slot_b_of_a, slot_b_of_b), dim=1))
    # Border and non-manifold edges: one border row per half-edge.
    single = torch.repeat_interleave(~pairs, counts)
    h = single.nonzero().squeeze(1)
    minus = torch.full_like(h, -1)
    rows.append(torch.stack((face[h], corner[h], (corner[h] + 1) % 3, minus, minus, minus), dim=1))
    table = torch.cat(rows)
    # Back into edge order (pairs and singles were split above).
    edge_of = torch.cat((first[pairs], h))
    table = table[torch.argsort(edge_of, stable=True)]
    return table.to(torch.int32)


def _table_of(faces: torch.Tensor) -> torch.Tensor:
    faces_cpu = faces.detach().to("cpu", torch.int64)
    if faces_cpu.dim() == 2:
        return _single_edge_table(faces_cpu)
    tables = [_single_edge_table(f) for f in faces_cpu]
    length = max((t.shape[0] for t in tables), default=0)
    padded = torch.full((len(tables), length, 6), -1, dtype=torch.int32)
    for i, t in enumerate(tables):
        padded[i, : t.shape[0]] = t
    return padded


def _unexpanded(faces: torch.Tensor) -> torch.Tensor:
    """``(F, 3)`` when ``faces (B, F, 3)`` is one face list expanded over the batch."""
    if faces.dim() == 3 and faces.shape[0] > 0 and faces.stride(0) == 0:
        return faces[0]
    return faces


def edge_table(faces: torch.Tensor) -> torch.Tensor:
    """Edge table (see the module docstring) of ``faces (F, 3)`` -> ``(E, 6)`` or ``(B, F, 3)`` ->
    ``(B, E, 6)``, int32 on ``faces.device``; cached per face list."""
    if not isinstance(faces, torch.Tensor) or faces.is_floating_point() or faces.dim() not in (2, 3):
        raise TypeError(f"faces must be an integer tensor (F, 3) or (B, F, 3), got {getattr(faces, 'shape', faces)!r}")
    if faces.shape[-1] != 3:
        raise ValueError(f"faces must have shape (F, 3) or (B, F, 3), got {tuple(faces.shape)}")
    faces = _unexpanded(faces)
    key = (faces.device, faces.dtype, tuple(faces.shape), tuple(faces.stride()), faces.data_ptr(), faces._version)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and torch.equal(hit[0], faces):
            _cache.move_to_end(key)
            return hit[1]
    table = _table_of(faces).to(faces.device)
    with _lock:
        _cache[key] = (faces.detach().clone(), table)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return table


def soup_edge_table(num_faces: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(3 F, 6)``: every edge of every face a border edge (faces without a face list)."""
    face = torch.arange(num_faces, device=device).repeat_interleave(3)
    corner = torch.arange(3, device=device).repeat(num_faces)
    minus = torch.full_like(face, -1)
    return torch.stack((face, corner, (corner + 1) % 3, minus, minus, minus), dim=1).to(torch.int32)


def edges_for(face_vertices: torch.Tensor, edges: torch.Tensor | None) -> torch.Tensor:
    """The int32 edge table a kernel receives for screen-space faces ``(B, F, 3, 3)``: ``edges`` (an
    :func:`edge_table`), checked for type and device, or the soup table when ``None``."""
    if edges is None:
        return soup_edge_table(face_vertices.shape[1], face_vertices.device)
    if not isinstance(edges, torch.Tensor):
        raise TypeError(f"edges must be a tensor (see renderers.topology.edge_table), got {type(edges).__name__}")
    if edges.device != face_vertices.device:
        raise ValueError(f"edges are on {edges.device} but face vertices on {face_vertices.device}")
    return edges.to(torch.int32).contiguous()
