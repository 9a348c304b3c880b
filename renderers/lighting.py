"""Ambient + directional lighting (REFERENCE section 4), applied to colours before rasterizing.

``colour * (ambient_intensity * ambient_colour + directional_intensity * directional_colour
* max(0, n . direction))`` with ``n`` the unit right-hand-rule normal ``(v1 - v0) x (v2 - v0)``
of a face (surface textures) or the area-weighted average of the adjacent faces' normals
at a vertex (vertex colours). ``direction`` points from the surface towards the light, in
world coordinates; the default (0, 1, 0) lights the mesh from above.

Every quantity may be a float / sequence (the renderers' ``light_*`` options) or a tensor,
shared by the batch or given per image, and tensors receive gradients like vertices and
textures: intensities ``()`` or ``(B,)``, colours and the direction ``(3,)`` or ``(B, 3)``
(:class:`Lighting`, passed as ``renderer(..., lights=Lighting(...))``). The direction is
normalised, so its gradient is orthogonal to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

from .checks import HostChecks, adding_to
from .gather import scatter_add_corners

__all__ = ["Lighting", "face_normals", "vertex_normals", "directional_light", "light_parts", "light_direction"]

LightValue = float | Sequence[float] | torch.Tensor


@dataclasses.dataclass(frozen=True)
class Lighting:
    """Ambient + directional light of a render call; see the module docstring for shapes."""

    ambient_intensity: LightValue = 0.5
    ambient_color: LightValue = (1.0, 1.0, 1.0)
    directional_intensity: LightValue = 0.5
    directional_color: LightValue = (1.0, 1.0, 1.0)
    direction: LightValue = (0.0, 1.0, 0.0)

    def checked(self, batch: int, like: torch.Tensor, checks: HostChecks | None = None) -> "Lighting":
        """Validates shapes, devices and values for a batch of ``batch`` images; tensors are cast
        to ``like``'s dtype (on its device) keeping their autograd history. The value checks
        (finite, non-negative intensities, a non-zero direction) are added to ``checks`` (raised
        when the caller resolves it), or, without ``checks``, made here in one device-to-host copy."""
        with adding_to(checks) as checks:
            values = {}
            for field in dataclasses.fields(self):
                name, value = field.name, getattr(self, field.name)
                vector = name != "ambient_intensity" and name != "directional_intensity"
                tensor = torch.as_tensor(value, device=like.device)
                if isinstance(value, torch.Tensor) and value.device != like.device:
                    raise ValueError(f"lights.{name} is on {value.device} but the vertices are on {like.device}")
                if not tensor.is_floating_point() and tensor.dtype not in (torch.int32, torch.int64):
                    raise TypeError(f"lights.{name} must be real numbers, got {tensor.dtype}")
                allowed = [(3,), (batch, 3)] if vector else [(), (batch,)]
                if tuple(tensor.shape) not in allowed:
                    raise ValueError(f"lights.{name} must have shape {' or '.join(map(str, allowed))}, got {tuple(tensor.shape)}")
                checks.add([torch.isfinite(tensor).all()], lambda finite, name=name: None if finite else ValueError(
                    f"lights.{name} contains NaN or infinite values"))
                if name.endswith("intensity"):
                    checks.add([(tensor < 0).any()], lambda negative, name=name: ValueError(
                        f"lights.{name} must be non-negative") if negative else None)
                if name == "direction":
                    checks.add([(tensor.detach().double().square().sum(-1) == 0).any()], lambda zero: ValueError(
                        "lights.direction must not be the zero vector") if zero else None)
                values[name] = tensor.to(like.dtype) if isinstance(value, torch.Tensor) else tensor.to(like.dtype).detach()
        return Lighting(**values)

    def as_kwargs(self) -> dict[str, LightValue]:
        """The fields as keyword arguments of :func:`directional_light`."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def _power_of_two_scale(points: torch.Tensor) -> torch.Tensor:
    """A constant ``(B, 1, ..., 1)`` power of two bringing each mesh's largest coordinate of
    ``points (B, ...)`` into [0.5, 1): normals are scale-invariant, and scaling by a power of two
    is exact, so this changes nothing but keeps the cross products of huge meshes (coordinates of
    1e30 in float32) from overflowing."""
    if points.numel() == 0:
        return points.new_ones(())
    largest = points.detach().abs().flatten(1).amax(dim=1)
    exponent = torch.frexp(largest).exponent.to(points.dtype)
    return torch.exp2(-exponent).view(-1, *([1] * (points.dim() - 1)))


def face_normals(face_vertices: torch.Tensor) -> torch.Tensor:
    """Unit normals ``(B, F, 3)`` of faces given as ``(B, F, 3, 3)`` world vertices."""
    face_vertices = face_vertices * _power_of_two_scale(face_vertices)
    v0, v1, v2 = face_vertices.unbind(dim=2)
    return torch.nn.functional.normalize(torch.linalg.cross(v1 - v0, v2 - v0, dim=-1), dim=-1, eps=1e-12)


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor, *, indices_checked: bool = False) -> torch.Tensor:
    """Unit normals ``(B, V, 3)``: the area-weighted sum of the normals of adjacent faces.

    ``vertices (B, V, 3)``, ``faces (B, F, 3)`` int64; ``indices_checked``: the caller has checked
    the face indices' range (see :func:`renderers.gather.gather_faces`).
    """
    num_vertices = vertices.shape[1]
    vertices = vertices * _power_of_two_scale(vertices)
    face_vertices = gather_face_vertices(vertices, faces)
    v0, v1, v2 = face_vertices.unbind(dim=2)
    weighted = torch.linalg.cross(v1 - v0, v2 - v0, dim=-1)  # length = 2 * area
    # Summed per vertex in ascending corner order on every device (index_add_ uses atomics on CUDA).
    summed = scatter_add_corners(weighted[:, :, None, :].expand(-1, -1, 3, -1), faces, num_vertices,
                                 indices_checked=indices_checked)
    return torch.nn.functional.normalize(summed, dim=-1, eps=1e-12)


def _light_tensor(value: LightValue, normals: torch.Tensor, vector: bool) -> torch.Tensor:
    """``value`` as a tensor broadcasting against ``normals (B, N, 3)`` (or any ``(..., 3)`` when shared)."""
    tensor = value if isinstance(value, torch.Tensor) else torch.tensor(value, dtype=normals.dtype)
    tensor = tensor.to(device=normals.device, dtype=normals.dtype)
    if vector:
        return tensor.view(tensor.shape[0], *([1] * (normals.dim() - 2)), 3) if tensor.dim() == 2 else tensor
    return tensor.view(tensor.shape[0], *([1] * (normals.dim() - 1))) if tensor.dim() == 1 else tensor


def light_parts(
    normals: torch.Tensor,
    ambient_intensity: LightValue = 0.5,
    ambient_color: LightValue = (1.0, 1.0, 1.0),
    directional_intensity: LightValue = 0.5,
    directional_color: LightValue = (1.0, 1.0, 1.0),
    direction: LightValue = (0.0, 1.0, 0.0),
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ambient and directional light factors ``(..., 3)`` for unit ``normals (..., 3)``, kept apart
    (a renderer with shadows scales the directional one by each point's visibility of the light).

    Per-image values (intensities ``(B,)``, colours and direction ``(B, 3)``) need ``normals (B, N, 3)``.
    """
    ambient = _light_tensor(ambient_color, normals, True) * _light_tensor(ambient_intensity, normals, False)
    light_dir = torch.nn.functional.normalize(_light_tensor(direction, normals, True), dim=-1, eps=1e-12)
    cosine = torch.relu((normals * light_dir).sum(dim=-1, keepdim=True))
    directional = _light_tensor(directional_intensity, normals, False) * _light_tensor(directional_color, normals, True)
    return ambient.expand_as(normals), directional * cosine


def directional_light(normals: torch.Tensor, *light: LightValue, **named: LightValue) -> torch.Tensor:
    """Light factor ``(..., 3)`` to multiply colours by, for unit ``normals (..., 3)``: the sum of
    the two :func:`light_parts` (same arguments)."""
    ambient, directional = light_parts(normals, *light, **named)
    return ambient + directional


def light_direction(direction: LightValue, batch: int, like: torch.Tensor) -> torch.Tensor:
    """The unit direction toward the light ``(B, 3)`` in ``like``'s dtype and device, from a shared
    ``(3,)`` or per-image ``(B, 3)`` direction (normalised as :func:`light_parts` does)."""
    tensor = direction if isinstance(direction, torch.Tensor) else torch.tensor(direction, dtype=like.dtype)
    tensor = tensor.to(device=like.device, dtype=like.dtype)
    return torch.nn.functional.normalize(tensor.expand(batch, 3), dim=-1, eps=1e-12)


def gather_face_vertices(values: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Per-face copies ``(B, F, 3, C)`` of per-vertex ``values (B, V, C)`` for ``faces (B, F, 3)``."""
    batch, num_faces, _ = faces.shape
    num_values, channels = values.shape[1], values.shape[-1]
    offsets = torch.arange(batch, device=faces.device).view(batch, 1, 1) * num_values
    flat = values.reshape(batch * num_values, channels).index_select(0, (faces + offsets).reshape(-1))
    return flat.view(batch, num_faces, 3, channels)
