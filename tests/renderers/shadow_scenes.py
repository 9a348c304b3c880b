"""Scenes and inputs for the tests of edge sampling with shadows (not collected: no ``test_`` prefix)."""

from __future__ import annotations

import torch

from renderers.base import lit_face_colors
from renderers.camera import points_from_angles
from renderers.gather import gather_faces, project_faces
from renderers.lighting import light_direction
from renderers.scenes import bumpy_sphere
from renderers.topology import edge_table

GROUND = torch.tensor([[-0.8, -0.45, -0.8], [-0.8, -0.45, 0.8], [0.8, -0.45, 0.8], [0.8, -0.45, -0.8]],
                      dtype=torch.float64)


def sphere_over_ground(batch: int = 2, subdivisions: int = 1) -> dict:
    """A bumpy sphere hovering over a ground quad (normal +y), per-vertex colours, lit at an angle:
    it shadows the ground and itself. ``vertices (B, V, 3)``, ``faces (F, 3)``, ``eye (B, 3)``,
    ``textures (B, V, 3)``, ``direction (B, 3)`` (per image, so that the batch's lights differ)."""
    sphere_v, sphere_f = bumpy_sphere(subdivisions=subdivisions, radius=0.3, seed=3, bumps=0.12)
    sphere_v = sphere_v.to(torch.float64) + torch.tensor([0.0, 0.05, 0.0], dtype=torch.float64)
    vertices = torch.cat((sphere_v, GROUND))
    offset = sphere_v.shape[0]
    faces = torch.cat((sphere_f.long(), torch.tensor([[0, 1, 2], [0, 2, 3]]) + offset))
    gen = torch.Generator().manual_seed(5)
    textures = 0.3 + 0.7 * torch.rand(batch, vertices.shape[0], 3, generator=gen, dtype=torch.float64)
    eye = points_from_angles(2.732, torch.tensor([35.0, 25.0][:batch]), torch.tensor([20.0, -40.0][:batch]))
    direction = torch.tensor([[0.5, 1.0, 0.3], [-0.4, 1.0, 0.5]][:batch], dtype=torch.float64)
    return dict(vertices=vertices[None].expand(batch, -1, -1).clone(), faces=faces, eye=eye.double(),
                textures=textures, direction=direction)


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
