"""Cameras: dataset viewpoints, the look-at transform and the perspective projection.

Conventions (REFERENCE section 4, shared by SoftRas, NMR and the Kato et al. dataset):

* World: +Y up. A camera at ``eye`` looks at the origin.
* Look-at frame: ``z = normalize(at - eye)``, ``x = normalize(up x z)``, ``y = z x x``;
  camera coordinates are ``v' = R (v - eye)`` with the rows of R being x, y, z. The camera
  looks down +z, so this frame is mirror-handed compared with OpenGL. It is kept because
  the dataset's 24 views were rendered with it.
* Perspective: ``x' = x / (z tan a)``, ``y' = y / (z tan a)``, ``z' = z``, with ``a`` the HALF
  field of view in degrees (``viewing_angle``; 15 for the dataset). The image covers
  ``[-1, 1]^2`` in (x', y'); x' grows to the right, y' upwards, image row 0 is the top.
* Winding: with this camera a face whose right-hand-rule normal ``(v1 - v0) x (v2 - v0)``
  points towards the camera appears *clockwise* on screen (negative signed area). Meshes
  with outward counter-clockwise winding (OBJ / trimesh convention) therefore show their
  front faces, and ``double_sided=False`` culls the faces turned away from the camera.
"""

from __future__ import annotations

import math

import torch

__all__ = ["points_from_angles", "look_at_rotation", "look_at", "perspective_scale", "perspective", "project"]


def points_from_angles(
    distance: torch.Tensor | float,
    elevation: torch.Tensor | float,
    azimuth: torch.Tensor | float,
    degrees: bool = True,
) -> torch.Tensor:
    """Camera positions on a sphere around the origin, broadcasting over its arguments.

    Returns ``(..., 3)``: ``(d cos(e) sin(a), d sin(e), -d cos(e) cos(a))``. View ``k`` of the
    dataset is ``points_from_angles(2.732, 30, -15 * k)``.
    """
    tensors = [a for a in (distance, elevation, azimuth) if isinstance(a, torch.Tensor)]
    if tensors:
        dtype = tensors[0].dtype if tensors[0].is_floating_point() else torch.get_default_dtype()
        device = tensors[0].device
    else:
        dtype, device = torch.get_default_dtype(), torch.device("cpu")
    d, e, a = (torch.as_tensor(v, dtype=dtype, device=device) for v in (distance, elevation, azimuth))
    d, e, a = torch.broadcast_tensors(d, e, a)
    if degrees:
        e, a = torch.deg2rad(e), torch.deg2rad(a)
    return torch.stack((d * torch.cos(e) * torch.sin(a), d * torch.sin(e), -d * torch.cos(e) * torch.cos(a)), dim=-1)


def look_at_rotation(eye: torch.Tensor, at: torch.Tensor | None = None, up: torch.Tensor | None = None) -> torch.Tensor:
    """World-to-camera rotation ``(B, 3, 3)`` for cameras at ``eye (B, 3)``, rows x, y, z.

    When the viewing direction is parallel to ``up`` (a camera straight above or below the
    target), +Z is used as the up vector instead so that the frame stays defined.
    """
    at = torch.zeros_like(eye) if at is None else at.to(eye).expand_as(eye)
    up = eye.new_tensor([0.0, 1.0, 0.0]).expand_as(eye) if up is None else up.to(eye).expand_as(eye)
    z = torch.nn.functional.normalize(at - eye, dim=-1, eps=1e-12)
    x = torch.linalg.cross(up, z, dim=-1)
    degenerate = x.norm(dim=-1, keepdim=True) < 1e-6
    x_alt = torch.linalg.cross(eye.new_tensor([0.0, 0.0, 1.0]).expand_as(eye), z, dim=-1)
    x = torch.nn.functional.normalize(torch.where(degenerate, x_alt, x), dim=-1, eps=1e-12)
    y = torch.linalg.cross(z, x, dim=-1)
    return torch.stack((x, y, z), dim=1)


def look_at(vertices: torch.Tensor, eye: torch.Tensor) -> torch.Tensor:
    """World ``(B, V, 3)`` to camera coordinates ``(B, V, 3)`` for cameras at ``eye (B, 3)``."""
    rotation = look_at_rotation(eye)
    return torch.matmul(vertices - eye[:, None, :], rotation.transpose(1, 2))


def perspective_scale(viewing_angle: float) -> float:
    """``tan(a)`` for a half field of view ``a`` in degrees: ``x' = x / (z tan a)``."""
    return math.tan(math.radians(viewing_angle))


def perspective(vertices: torch.Tensor, viewing_angle: float = 15.0) -> torch.Tensor:
    """Camera coordinates ``(B, V, 3)`` to screen ``(x', y', z)`` for a half field of view in degrees."""
    scale = perspective_scale(viewing_angle)
    z = vertices[..., 2]
    x = vertices[..., 0] / (z * scale)
    y = vertices[..., 1] / (z * scale)
    return torch.stack((x, y, z), dim=-1)


def project(vertices: torch.Tensor, eye: torch.Tensor, viewing_angle: float = 15.0) -> torch.Tensor:
    """World ``(B, V, 3)`` to screen coordinates ``(B, V, 3)``: look-at then perspective."""
    return perspective(look_at(vertices, eye), viewing_angle)
