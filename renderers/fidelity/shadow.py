"""Exact, differentiable ground truth of a hard shadow: a triangle over a ground quad.

The scene: a triangle ``T`` (3 world vertices) hovers above a convex ground quad ``G`` (4 world
vertices ``g0..g3``, meshed as the faces ``(g0, g1, g2)`` and ``(g0, g2, g3)``), lit by the
directional light of :mod:`renderers.lighting` (``direction`` points from the surface toward the
light) with shadows: a surface point receives the directional term only where the ray from it
along ``+d`` leaves the scene without hitting another face; the ambient term is never shadowed.

Under the preconditions listed in :func:`shadow_scene_image` (checked there) the image is a few
flat convex polygons on screen, so its box-filtered version is exact
(:func:`renderers.fidelity.exact.layered_image`) and autograd gives its true derivative:

* the triangle, colour ``c_T * (ambient + directional * max(0, n_T . d))`` (never shadowed: the
  ground is below it and the light above);
* on each ground face ``k``, the shadow ``G_k ∩ shadow_k(T)``, where ``shadow_k(T)`` is ``T``
  moved along ``-d`` onto the plane of face ``k`` (:func:`shadow_triangle`); on screen this is
  ``clip_convex(screen(shadow_k(T)), screen(G_k))`` because the perspective image of a plane is a
  projective map (lines to lines). Colour ``c_G * ambient``;
* the rest of each ground face, colour ``c_G * (ambient + directional * max(0, n_k . d))``.

Each ground face has its own plane and normal: for a planar quad they coincide (the textbook
"shadow on the ground plane"), and keeping them separate makes the derivative with respect to
a ground vertex moving out of the quad's plane the one of the two-triangle mesh a renderer draws
(that face tilts: its shading and its part of the shadow change).

:func:`brute_force_shadow_image` is an independent check: a supersampled ray caster with shadow
rays for any small triangle soup. Conventions (camera, screen, pixels) are those of
:mod:`renderers.camera` and :mod:`renderers.fidelity.exact`; everything is float64 in practice.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch

from ..camera import look_at, look_at_rotation, perspective_scale, points_from_angles, project
from ..lighting import Lighting, directional_light
from .exact import clip_convex, layered_image, polygon_area

__all__ = [
    "GROUND_FACES",
    "ShadowScene",
    "brute_force_shadow_image",
    "shadow_scene_image",
    "shadow_triangle",
    "shadow_truth_scene",
]

GROUND_FACES = ((0, 1, 2), (0, 2, 3))  # the quad's two faces (corner indices into ``ground``)
Color = Sequence[float] | torch.Tensor


def _unit(vector: torch.Tensor) -> torch.Tensor:
    return vector / vector.norm(dim=-1, keepdim=True)


def _face_normal(corners: torch.Tensor) -> torch.Tensor:
    """Unit right-hand-rule normal ``(3,)`` of ``(v1 - v0) x (v2 - v0)`` for ``corners (>=3, 3)``."""
    return _unit(torch.linalg.cross(corners[1] - corners[0], corners[2] - corners[0], dim=-1))


def shadow_triangle(triangle: torch.Tensor, ground: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """The shadow ``(3, 3)`` of ``triangle (3, 3)`` on the plane of ``ground``.

    ``ground (N, 3)``, ``N >= 3``: the plane through ``ground[0..2]`` (normal ``n`` of
    ``(g1 - g0) x (g2 - g0)``); pass ``ground[[0, 2, 3]]`` for the quad's second face.
    ``direction (3,)`` toward the light, any length. Each vertex ``p`` goes along ``-d`` to the
    plane: ``p - ((p - g0) . n / (d . n)) d``. Differentiable in all three arguments.
    """
    d = _unit(direction)
    normal = _face_normal(ground)
    height = ((triangle - ground[0]) * normal).sum(-1) / (d * normal).sum()
    return triangle - height[:, None] * d


def _as(value: Color | float, like: torch.Tensor) -> torch.Tensor:
    """``value`` as a tensor of ``like``'s dtype and device (tensors keep their autograd history)."""
    if isinstance(value, torch.Tensor):
        return value.to(like)
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)


def shadow_scene_image(
    triangle: torch.Tensor,
    ground: torch.Tensor,
    direction: torch.Tensor,
    eye: torch.Tensor,
    image_size: int,
    *,
    triangle_color: Color,
    ground_color: Color,
    ambient_intensity: float | torch.Tensor = 0.5,
    directional_intensity: float | torch.Tensor = 0.5,
    ambient_color: Color = (1.0, 1.0, 1.0),
    directional_color: Color = (1.0, 1.0, 1.0),
    viewing_angle: float = 15.0,
    check: bool = True,
) -> torch.Tensor:
    """Exact box-filtered RGBA ``(4, S, S)`` of the shadow scene (see the module docstring).

    Args:
        triangle: ``(3, 3)`` world vertices; any winding (its directional term uses its
            right-hand-rule normal, clamped at 0).
        ground: ``(4, 3)`` the convex quad, faces ``(0, 1, 2)`` and ``(0, 2, 3)`` wound so that
            their normals point toward the light.
        direction: ``(3,)`` toward the light, un-normalised (normalised here).
        eye: ``(3,)`` camera position, looking at the origin.
        image_size: ``S``.
        triangle_color: ``(3,)``; ground_color: ``(3,)``, or ``(2, 3)`` one per ground face.
        ambient_intensity, directional_intensity, ambient_color, directional_color: the light
            of :func:`renderers.lighting.directional_light`.
        viewing_angle: half field of view in degrees.
        check: check the preconditions (on detached values), raising ValueError naming the
            violated one: the ground faces face the light (``d . n_k > 0``); the triangle is above
            both face planes; the quad is convex and planar (to 1e-3 of its size); the triangle's
            shadow lies inside the quad; the quad, triangle and shadow project inside
            ``[-1, 1]^2`` (in front of the camera); the shadow and the triangle do not overlap on
            screen; the triangle is in front of the ground wherever they overlap on screen.

    Returns:
        ``(4, S, S)``, background black with alpha 0, differentiable by autograd with respect
        to the vertices, the direction, the eye, the colours and the light.
    """
    d = _unit(direction)
    faces = [ground[list(face)] for face in GROUND_FACES]
    shadows = [shadow_triangle(triangle, face, d) for face in faces]
    points = torch.cat([triangle, ground, *shadows])  # (3 + 4 + 3 + 3, 3)
    screen = project(points[None], eye[None], viewing_angle)[0]  # (13, 3): x', y', depth
    if check:
        _check_preconditions(triangle.detach(), ground.detach(), d.detach(), eye.detach(),
                             screen.detach(), viewing_angle)
    xy = screen[:, :2]
    triangle_xy, ground_xy, shadow_xy = xy[:3], xy[3:7], (xy[7:10], xy[10:13])

    normals = torch.stack([_face_normal(triangle), *[_face_normal(face) for face in faces]])
    lit = directional_light(normals, ambient_intensity, ambient_color, directional_intensity, directional_color, d)
    ambient = _as(ambient_color, triangle) * _as(ambient_intensity, triangle)  # (3,) the shadowed factor
    ground_colors = _as(ground_color, triangle).expand(2, 3)
    triangle_rgb = _as(triangle_color, triangle) * lit[0]

    # The two ground faces meet only along the diagonal on screen, so the image is the sum of one
    # layered image per face (triangle in front, then that face's shadow, then the face), with
    # the triangle's own contribution counted once.
    image = -layered_image([triangle_xy], [triangle_rgb], image_size)
    for k, face in enumerate(GROUND_FACES):
        face_xy = ground_xy[list(face)]
        piece = clip_convex(shadow_xy[k], face_xy)
        layers, colors = [triangle_xy], [triangle_rgb]
        if piece.shape[0]:
            layers.append(piece)
            colors.append(ground_colors[k] * ambient)
        layers.append(face_xy)
        colors.append(ground_colors[k] * lit[k + 1])
        image = image + layered_image(layers, colors, image_size)
    return image


def _check_preconditions(
    triangle: torch.Tensor, ground: torch.Tensor, d: torch.Tensor, eye: torch.Tensor, screen: torch.Tensor,
    viewing_angle: float,
) -> None:
    """Raises ValueError naming the first violated precondition of :func:`shadow_scene_image`.
    ``screen (13, 3)``: the projected triangle, quad and the two face-plane shadows."""

    def fail(message: str) -> None:
        raise ValueError(f"shadow scene precondition violated: {message}")

    faces = [ground[list(face)] for face in GROUND_FACES]
    normals = [_face_normal(face) for face in faces]
    if any(float(d @ n) <= 0 for n in normals):
        fail("the light must be above the ground (d . n_k > 0 for both ground faces, wound to face the light)")
    if any(float(((triangle - ground[0]) @ n).min()) <= 0 for n in normals):
        fail("the triangle must be above the ground plane, on the light's side ((p - g0) . n_g > 0)")
    size = float((ground[:, None] - ground[None]).norm(dim=-1).max())
    edges = ground.roll(-1, 0) - ground
    turns = torch.linalg.cross(edges, edges.roll(-1, 0), dim=-1) @ normals[0]
    if float(turns.min()) <= 0 or abs(float((ground[3] - ground[0]) @ normals[0])) > 1e-3 * size:
        fail("the ground quad must be convex and planar")
    shadow = shadow_triangle(triangle, ground, d)  # on the quad's plane
    sides = torch.linalg.cross(edges[None], shadow[:, None] - ground[None], dim=-1) @ normals[0]  # (3, 4)
    if float(sides.min()) <= 0:
        fail("the triangle's shadow must lie inside the ground quad")
    if float(screen[:, 2].min()) <= 0 or float(screen[:, :2].abs().max()) >= 1:
        fail("the quad, triangle and shadow must project inside the image square [-1, 1]^2")
    xy = screen[:, :2]
    for shadow_xy in (xy[7:10], xy[10:13]):
        overlap = clip_convex(xy[:3], shadow_xy)
        if overlap.shape[0] and abs(float(polygon_area(overlap))) > 1e-12:
            fail("the screen images of the shadow and the triangle must not overlap")
    # Depth along the camera ray through a screen point (x, y): on the plane m . v = c (camera
    # coordinates), 1/z = m . (x tan a, y tan a, 1) / c, affine in (x, y); so comparing at the
    # vertices of the (convex) overlap decides it everywhere on it.
    camera = look_at(torch.cat([triangle, ground])[None], eye[None])[0]
    tan = perspective_scale(viewing_angle)

    def inverse_depth(corners: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
        m = _face_normal(corners)
        rays = torch.cat([at * tan, torch.ones_like(at[:, :1])], dim=1)
        return (rays @ m) / (m @ corners[0])

    for face in GROUND_FACES:
        overlap = clip_convex(xy[:3], xy[3:7][list(face)])
        if overlap.shape[0] and float((inverse_depth(camera[:3], overlap)
                                       - inverse_depth(camera[3:][list(face)], overlap)).min()) <= 0:
            fail("the triangle must be in front of the ground wherever they overlap on screen")


# --------------------------------------------------------------------------------------------
# The benchmark scene
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class ShadowScene:
    """The shadow scene as a mesh for renderers, with its exact image.

    vertices: ``(1, 7, 3)`` world, the triangle's 3 then the ground quad's 4.
    faces: ``(3, 3)`` int64 ``[[0, 1, 2], [3, 4, 5], [3, 5, 6]]`` (the ground's two faces wound
        toward the light).
    eye: ``(1, 3)``; textures: ``(1, 3, 1, 3)`` flat colour per face (each face's own colour is
        used; the default scene's two ground faces share one).
    light_direction: ``(3,)`` toward the light (unit); ambient_intensity, directional_intensity:
        white light. viewing_angle: half field of view, degrees.
    """

    name: str
    vertices: torch.Tensor
    faces: torch.Tensor
    eye: torch.Tensor
    textures: torch.Tensor
    light_direction: torch.Tensor
    ambient_intensity: float
    directional_intensity: float
    image_size: int
    viewing_angle: float = 15.0

    def lighting(self) -> Lighting:
        """The scene's light for ``renderer(..., lights=...)``."""
        return Lighting(ambient_intensity=self.ambient_intensity, directional_intensity=self.directional_intensity,
                        direction=self.light_direction)

    def exact(self, vertices: torch.Tensor, direction: torch.Tensor | None = None,
              eye: torch.Tensor | None = None, check: bool = True) -> torch.Tensor:
        """Exact image ``(1, 4, S, S)`` for world ``vertices (1, 7, 3)``, optionally another
        light ``direction (3,)`` or camera ``eye (1, 3)`` (differentiable in all three)."""
        direction = self.light_direction if direction is None else direction
        eye = self.eye if eye is None else eye
        colors = self.textures[0, :, 0]  # (3, 3) per face
        image = shadow_scene_image(
            vertices[0, :3], vertices[0, 3:7], direction, eye[0], self.image_size,
            triangle_color=colors[0], ground_color=colors[1:], ambient_intensity=self.ambient_intensity,
            directional_intensity=self.directional_intensity, viewing_angle=self.viewing_angle, check=check)
        return image[None]


def shadow_truth_scene(image_size: int = 32) -> ShadowScene:
    """The default shadow scene at ``S x S``: every precondition holds with margins.

    * Ground: the square ``y = -0.3``, ``x, z in [-0.45, 0.45]``, corners in the order
      ``(-, -), (-, +), (+, +), (+, -)`` in ``(x, z)``, so both faces' normals are ``+y``.
    * Triangle: ``(-0.05, 0.35, 0), (0.3, 0.23, 0.07), (0.11, 0.13, -0.25)``, tilted (unit
      normal about ``(0.37, 0.80, -0.47)``), corners in this order so that its right-hand-rule
      normal faces the light (``n_T . d = 0.73``).
    * Light: direction ``(0.5, 1.0, 0.3)`` normalised, ambient 0.4, directional 0.6, white.
    * Camera: ``points_from_angles(2.732, 45, -10)``, 15 degrees half field of view.
    * Colours: triangle ``(0.9, 0.4, 0.2)``, ground ``(0.3, 0.6, 0.9)``.

    On screen (NDC) everything lies within ``[-0.85, 0.85]^2``; the shadow (about 20 pixels at
    S = 32) falls across the quad's diagonal, about 4.7 pixels from the triangle, which hides
    about 8 pixels of the ground.
    """
    dtype = torch.float64
    triangle = torch.tensor([[-0.05, 0.35, 0.0], [0.3, 0.23, 0.07], [0.11, 0.13, -0.25]], dtype=dtype)
    ground = torch.tensor([[-0.45, -0.3, -0.45], [-0.45, -0.3, 0.45], [0.45, -0.3, 0.45], [0.45, -0.3, -0.45]],
                          dtype=dtype)
    direction = _unit(torch.tensor([0.5, 1.0, 0.3], dtype=dtype))
    eye = points_from_angles(2.732, 45.0, -10.0)[None].to(dtype)
    colors = torch.tensor([[0.9, 0.4, 0.2], [0.3, 0.6, 0.9], [0.3, 0.6, 0.9]], dtype=dtype)
    return ShadowScene("shadow", torch.cat((triangle, ground))[None], torch.tensor([[0, 1, 2], [3, 4, 5], [3, 5, 6]]),
                       eye, colors.view(1, 3, 1, 3), direction, 0.4, 0.6, image_size)


# --------------------------------------------------------------------------------------------
# Independent check: a supersampled ray caster with shadow rays
# --------------------------------------------------------------------------------------------


def _ray_hits(origins: torch.Tensor, directions: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """Möller–Trumbore: ray parameters ``t (N, F)`` of the hits of rays ``origins (N, 3) +
    t directions (N, 3)`` on ``triangles (F, 3, 3)`` (edges included), ``inf`` where missed."""
    v0, v1, v2 = triangles.unbind(1)  # (F, 3)
    e1, e2 = (v1 - v0)[None], (v2 - v0)[None]
    rays = directions[:, None].expand(-1, triangles.shape[0], -1)
    p = torch.linalg.cross(rays, e2.expand_as(rays), dim=-1)
    det = (e1 * p).sum(-1)  # (N, F)
    valid = det.abs() > 1e-14
    inverse = 1.0 / torch.where(valid, det, torch.ones_like(det))
    s = origins[:, None] - v0[None]
    u = (s * p).sum(-1) * inverse
    q = torch.linalg.cross(s, e1.expand_as(s), dim=-1)
    w = (rays * q).sum(-1) * inverse
    t = (e2 * q).sum(-1) * inverse
    hit = valid & (u >= 0) & (w >= 0) & (u + w <= 1)
    return torch.where(hit, t, torch.full_like(t, math.inf))


@torch.no_grad()
def brute_force_shadow_image(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    textures: torch.Tensor,
    eye: torch.Tensor,
    direction: torch.Tensor,
    image_size: int,
    *,
    factor: int = 16,
    ambient_intensity: float,
    directional_intensity: float,
    ambient_color: Color = (1.0, 1.0, 1.0),
    directional_color: Color = (1.0, 1.0, 1.0),
    viewing_angle: float = 15.0,
    bias: float = 1e-9,
    chunk: int = 1 << 16,
) -> torch.Tensor:
    """Supersampled ray-cast RGBA ``(4, S, S)`` of a flat-shaded triangle soup with hard shadows.

    ``vertices (1, V, 3)``, ``faces (F, 3)``, flat colours ``textures (1, F, 1, 3)``, ``eye (1, 3)``
    (looking at the origin), ``direction (3,)`` toward the light. Each pixel is the mean of
    ``factor x factor`` samples at the centres of its sub-pixel grid: the camera ray through the
    sample (world direction ``R^T (x tan a, y tan a, 1)`` with ``R`` the look-at rotation) takes the
    nearest face hit (Möller–Trumbore), shaded ``c * (ambient + directional * max(0, n . d) * V)``
    with ``n`` the face's right-hand-rule normal and ``V = 0`` when the ray from the hit point along
    ``+d`` meets another face at a distance above ``bias``. Background black, alpha 0. Independent
    of the renderers' rasterizers and of :func:`shadow_scene_image`; no gradient.
    """
    dtype = torch.float64
    points = vertices[0].to(dtype)
    triangles = points[faces.long()]  # (F, 3, 3)
    colors = textures[0, :, 0].to(dtype)  # (F, 3)
    d = _unit(torch.as_tensor(direction, dtype=dtype))
    normals = _unit(torch.linalg.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0], dim=-1))
    ambient = torch.as_tensor(ambient_color, dtype=dtype) * ambient_intensity
    directional = torch.as_tensor(directional_color, dtype=dtype) * directional_intensity
    cosine = (normals @ d).clamp(min=0)  # (F,)

    n = image_size * factor
    k = (torch.arange(n, dtype=dtype) + 0.5) * (2.0 / n)
    y, x = torch.meshgrid(1.0 - k, -1.0 + k, indexing="ij")  # (n, n), row 0 at the top
    tan = perspective_scale(viewing_angle)
    camera_rays = torch.stack((x * tan, y * tan, torch.ones_like(x)), dim=-1).reshape(-1, 3)
    origin = eye.to(dtype).reshape(1, 3)
    world_rays = camera_rays @ look_at_rotation(origin)[0]  # R^T r for each row r

    rgba = torch.zeros(n * n, 4, dtype=dtype)
    for start in range(0, n * n, chunk):
        rays = world_rays[start : start + chunk]
        t = _ray_hits(origin.expand_as(rays), rays, triangles)
        t = torch.where(t > 0, t, torch.full_like(t, math.inf))
        nearest, face = t.min(dim=1)
        covered = torch.isfinite(nearest)
        hits = origin + nearest.where(covered, torch.zeros_like(nearest))[:, None] * rays
        shadow_t = _ray_hits(hits, d.expand_as(hits), triangles)
        others = torch.arange(triangles.shape[0])[None] != face[:, None]
        blocked = ((shadow_t > bias) & torch.isfinite(shadow_t) & others).any(dim=1)
        visibility = (~blocked).to(dtype)
        shade = colors[face] * (ambient + directional * (cosine[face] * visibility)[:, None])
        rgba[start : start + chunk, :3] = torch.where(covered[:, None], shade, torch.zeros_like(shade))
        rgba[start : start + chunk, 3] = covered.to(dtype)
    image = rgba.T.reshape(4, image_size, factor, image_size, factor)
    return image.mean(dim=(2, 4))
