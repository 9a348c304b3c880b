"""Inputs for the tests of edge sampling with shadows (not collected: no ``test_`` prefix); the scenes
are in :mod:`renderers.scenes`."""

from __future__ import annotations

import torch

from renderers.base import lit_face_colors
from renderers.gather import gather_faces, project_faces
from renderers.lighting import light_direction
from renderers.topology import edge_table


def shadow_inputs(vertices: torch.Tensor, faces: torch.Tensor, eye: torch.Tensor, textures: torch.Tensor,
                  direction: torch.Tensor, ambient: float = 0.4, directional: float = 0.6,
                  viewing_angle: float = 15.0) -> dict:
    """The inputs of :func:`renderers.edge.edge_shadow_rasterize` for a world scene, as leaf tensors
    (detached, requiring grad): screen corners, the ambient and directional colour parts, world
    corners and the unit light direction, with the kind and the edge table."""
    batch = vertices.shape[0]
    faces_b = faces.expand(batch, -1, -1)
    kind = "vertex" if textures.dim() == 3 else "surface"
    light = dict(ambient_intensity=ambient, directional_intensity=directional, direction=direction)
    amb, lit = lit_face_colors(vertices, faces_b, textures, kind, light, parts=True)
    tensors = dict(face_vertices=project_faces(vertices, eye, faces_b, viewing_angle), ambient=amb, directional=lit,
                   world=gather_faces(vertices, faces_b), light=light_direction(direction, batch, vertices))
    tensors = {k: v.detach().clone().requires_grad_(True) for k, v in tensors.items()}
    return dict(tensors=tensors, kind=kind, edges=edge_table(faces))


def forward_backward(fn, inputs: dict, upstream: torch.Tensor, **options) -> tuple[torch.Tensor, dict]:
    """``fn(**tensors, S, kind, edges=..., **options)`` and the gradients of ``sum(image * upstream)``
    with respect to each of the five tensors."""
    tensors = {k: v.detach().clone().requires_grad_(True) for k, v in inputs["tensors"].items()}
    image = fn(*tensors.values(), upstream.shape[-1], inputs["kind"], edges=inputs["edges"], **options)
    (image * upstream).sum().backward()
    return image.detach(), {k: v.grad for k, v in tensors.items()}
