"""Exact ground truth of a hard shadow (renderers.fidelity.shadow): against an independent
supersampled ray caster, its preconditions, and its gradients (gradcheck and closed forms)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from renderers.camera import points_from_angles, project
from renderers.fidelity.exact import clip_convex, pixel_area, polygon_area
from renderers.fidelity.shadow import (
    GROUND_FACES,
    ShadowScene,
    brute_force_shadow_image,
    shadow_scene_image,
    shadow_triangle,
    shadow_truth_scene,
)

DTYPE = torch.float64
FACTOR = 16  # samples per pixel side of the brute-force reference


@pytest.fixture(autouse=True)
def _one_thread():
    """Many tiny tensor ops: one thread is ten times faster than several on a busy machine
    (tests/renderers/conftest.py restores the count afterwards)."""
    torch.set_num_threads(1)


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=DTYPE)


def unit_normal(corners: torch.Tensor) -> torch.Tensor:
    n = torch.linalg.cross(corners[1] - corners[0], corners[2] - corners[0])
    return n / n.norm()


def polygon_distance(p: torch.Tensor, q: torch.Tensor) -> float:
    """Distance between two disjoint polygons ``(P, 2)``, ``(Q, 2)``: the least distance from a
    vertex of one to an edge of the other."""

    def to_edges(points: torch.Tensor, polygon: torch.Tensor) -> torch.Tensor:
        a, b = polygon, polygon.roll(-1, 0)
        ab = (b - a)[None]
        s = ((points[:, None] - a[None]) * ab).sum(-1) / (ab * ab).sum(-1)
        return (points[:, None] - a[None] - s.clamp(0, 1)[..., None] * ab).norm(dim=-1)

    return float(torch.minimum(to_edges(p, q).min(), to_edges(q, p).min()))


def brute(scene: ShadowScene, vertices: torch.Tensor | None = None) -> torch.Tensor:
    return brute_force_shadow_image(
        scene.vertices if vertices is None else vertices, scene.faces, scene.textures, scene.eye,
        scene.light_direction, scene.image_size, factor=FACTOR, ambient_intensity=scene.ambient_intensity,
        directional_intensity=scene.directional_intensity, viewing_angle=scene.viewing_angle)


def screen_segments(scene: ShadowScene, vertices: torch.Tensor) -> torch.Tensor:
    """Every screen segment ``(K, 2, 2)`` on which the image may be discontinuous: the triangle's
    and the quad's edges, the quad's diagonal and the edges of the shadow on both faces' planes."""
    v = vertices[0]
    shadows = [shadow_triangle(v[:3], v[3:7][list(face)], scene.light_direction) for face in GROUND_FACES]
    xy = project(torch.cat([v, *shadows])[None], scene.eye, scene.viewing_angle)[0, :, :2]
    loops = [[0, 1, 2], [3, 4, 5, 6], [3, 5], [7, 8, 9], [10, 11, 12]]
    pairs = [(loop[i], loop[(i + 1) % len(loop)]) for loop in loops for i in range(len(loop) if len(loop) > 2 else 1)]
    return torch.stack([torch.stack((xy[a], xy[b])) for a, b in pairs])


def sampling_error_bound(segments: torch.Tensor, size: int, factor: int) -> torch.Tensor:
    """Per-pixel bound ``(S, S)`` on |supersampled - box-filtered| for an image with values in
    [0, 1] that is constant off ``segments`` (see test_exact_image_matches_the_ray_caster)."""
    pixels = (segments * t([1.0, -1.0]) + 1.0) * (size / 2)  # (K, 2, 2): (column, row) units
    rows, columns = torch.meshgrid(torch.arange(size, dtype=DTYPE), torch.arange(size, dtype=DTYPE), indexing="ij")
    bound = torch.zeros(size, size, dtype=DTYPE)
    for (u0, v0), (u1, v1) in pixels.tolist():
        du, dv = u1 - u0, v1 - v0
        low, high = torch.zeros_like(rows), torch.ones_like(rows)  # Liang-Barsky on each pixel
        for start, delta, cell in ((u0, du, columns), (v0, dv, rows)):
            if delta == 0:
                outside = (start < cell) | (start > cell + 1)
                high = torch.where(outside, torch.full_like(high, -1.0), high)
                continue
            a, b = (cell - start) / delta, (cell + 1 - start) / delta
            low, high = torch.maximum(low, torch.minimum(a, b)), torch.minimum(high, torch.maximum(a, b))
        inside = (high - low).clamp(min=0)  # parameter length of the segment inside each pixel
        crossed = factor * inside * (abs(du) + abs(dv)) + 3  # cells met, in factor x factor cells
        bound += torch.where(inside > 0, crossed, torch.zeros_like(crossed)) / factor**2
    return bound


def test_default_scene_layout():
    scene = shadow_truth_scene(32)
    v, d = scene.vertices[0], scene.light_direction
    assert scene.vertices.shape == (1, 7, 3) and scene.vertices.dtype == DTYPE
    assert scene.faces.tolist() == [[0, 1, 2], [3, 4, 5], [3, 5, 6]] and scene.faces.dtype == torch.int64
    assert scene.eye.shape == (1, 3) and scene.textures.shape == (1, 3, 1, 3) and scene.light_direction.shape == (3,)
    for face in scene.faces:  # every face turned toward the light, the triangle's with margin
        assert float(unit_normal(v[face]) @ d) > 0.5
    image = scene.exact(scene.vertices)
    assert image.shape == (1, 4, 32, 32) and float(image.min()) > -1e-12 and float(image.max()) < 1 + 1e-12
    # The shadow is on screen and a few pixels away from the triangle.
    shadow = project(shadow_triangle(v[:3], v[3:7], d)[None], scene.eye)[0, :, :2]
    triangle = project(v[None, :3], scene.eye)[0, :, :2]
    assert polygon_distance(shadow, triangle) > 3 * 2 / 32  # 3 pixels


def test_shadow_triangle_lies_on_the_plane_along_the_light():
    scene = shadow_truth_scene()
    v = scene.vertices[0]
    direction = t([0.7, 1.3, -0.2])  # not normalised
    d = direction / direction.norm()
    for face in GROUND_FACES:
        plane = v[3:7][list(face)]
        shadow = shadow_triangle(v[:3], plane, direction)
        assert shadow.shape == (3, 3)
        torch.testing.assert_close((shadow - plane[0]) @ unit_normal(plane), torch.zeros(3, dtype=DTYPE),
                                   atol=1e-14, rtol=0)
        offset = v[:3] - shadow  # a positive multiple of d: the triangle is above, toward the light
        torch.testing.assert_close(torch.linalg.cross(offset, d.expand_as(offset)), torch.zeros(3, 3, dtype=DTYPE),
                                   atol=1e-14, rtol=0)
        assert bool((offset @ d > 0.3).all())


def test_exact_image_matches_the_ray_caster():
    """The supersampled image is the mean of f x f cell-centre samples, so its error is
    (1/f^2) sum over cells of (value at the centre - mean over the cell). The image is constant
    off the screen segments of screen_segments (triangle, quad, diagonal, shadow edges), so only
    cells whose interior such a segment meets contribute, each at most max - min <= 1 (all
    values lie in [0, 1]). A segment spanning (a, b) cell widths inside a pixel meets at most
    a + b + 3 cells (one plus its crossings of vertical and of horizontal grid lines). Hence the
    per-pixel bound of sampling_error_bound, and exact agreement (rounding) in every pixel that
    no segment crosses. The bound is rigorous but loose (about 2/f per edge in a pixel; the
    measured error is about 0.5/f at most, the rounding of an edge's position to the sample
    grid in each sub-row)."""
    scene = shadow_truth_scene(32)
    exact = scene.exact(scene.vertices)[0]
    sampled = brute(scene)
    error = (exact - sampled).abs().amax(0)
    bound = sampling_error_bound(screen_segments(scene, scene.vertices), 32, FACTOR)
    assert float(error[bound == 0].max()) < 1e-10  # edge-free pixels: exactly equal
    assert bool((error <= bound + 1e-10).all()), float((error - bound).max())
    assert float(error.max()) < 0.5 / FACTOR  # observed: about 0.01
    # Shadowed pixels exist, and the shadow and ground colours are those of the lighting model.
    colour = scene.textures[0, 1, 0]
    shade = colour * scene.ambient_intensity
    lit = colour * (scene.ambient_intensity + scene.directional_intensity * float(scene.light_direction[1]))
    interior = bound == 0
    assert int(((exact[:3] - shade[:, None, None]).abs().amax(0) < 1e-12)[interior].sum()) >= 4
    assert int(((exact[:3] - lit[:, None, None]).abs().amax(0) < 1e-12)[interior].sum()) >= 50


def test_exact_image_matches_the_ray_caster_on_a_folded_ground():
    """Each ground face has its own plane and normal, so that derivatives for a ground vertex
    leaving the quad's plane are those of the two-triangle mesh: with g3 lifted (a valley fold
    across the shadow) the image still matches the ray caster (same bound as above)."""
    scene = shadow_truth_scene(32)
    vertices = scene.vertices.clone()
    vertices[0, 6, 1] += 0.08
    scene = dataclasses.replace(scene, textures=scene.textures * t([1.0, 1.0, 0.8])[:, None, None])
    exact = scene.exact(vertices, check=False)[0]
    error = (exact - brute(scene, vertices)).abs().amax(0)
    bound = sampling_error_bound(screen_segments(scene, vertices), 32, FACTOR)
    assert float(error[bound == 0].max()) < 1e-10
    assert bool((error <= bound + 1e-10).all())
    with pytest.raises(ValueError, match="planar"):
        scene.exact(vertices)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(triangle=t([-0.3, 0.0, 0.0])), "shadow must lie inside the ground quad"),
        (dict(direction=t([1.0, -1.0, 1.0])), "light must be above the ground"),
        (dict(triangle=t([0.0, -0.6, 0.0])), "triangle must be above the ground plane"),
        (dict(ground_lift=0.1), "convex and planar"),
        (dict(eye=points_from_angles(1.5, 30.0, 20.0)), "inside the image square"),
        (dict(eye="along the light"), "shadow and the triangle must not overlap"),
        (dict(eye=points_from_angles(2.732, -50.0, 20.0)), "triangle must be in front of the ground"),
    ],
)
def test_each_precondition_violation_raises(change, message):
    scene = shadow_truth_scene(16)
    v, d, eye = scene.vertices[0], scene.light_direction, scene.eye[0]
    triangle, ground = v[:3] + change.get("triangle", torch.zeros(3, dtype=DTYPE)), v[3:7].clone()
    ground[3, 1] += change.get("ground_lift", 0.0)
    direction = d * change.get("direction", torch.ones(3, dtype=DTYPE))
    if "eye" in change:  # looking along the light puts the shadow right behind the triangle
        eye = 2.732 * d if isinstance(change["eye"], str) else change["eye"].to(DTYPE)
    with pytest.raises(ValueError, match=message):
        shadow_scene_image(triangle, ground, direction, eye, 16, triangle_color=(1.0, 0.5, 0.2),
                           ground_color=(0.3, 0.6, 0.9))
    shadow_scene_image(v[:3], v[3:7], d, scene.eye[0], 16, triangle_color=(1.0, 0.5, 0.2),
                       ground_color=(0.3, 0.6, 0.9))  # the unchanged scene passes


def test_gradcheck():
    """The image is piecewise smooth in the geometry (kinks only when a vertex or an edge crossing
    meets a pixel line, or a shadow vertex the quad's diagonal), and the default scene is generic."""
    scene = shadow_truth_scene(16)
    v = scene.vertices[0]
    weights = torch.randn(4, 16, 16, generator=torch.Generator().manual_seed(3), dtype=DTYPE)

    def loss(triangle, ground, direction, eye):
        image = shadow_scene_image(triangle, ground, direction, eye, 16, triangle_color=scene.textures[0, 0, 0],
                                   ground_color=scene.textures[0, 1, 0], ambient_intensity=0.4,
                                   directional_intensity=0.6)
        return (image * weights).sum()

    inputs = [x.clone().requires_grad_(True) for x in (v[:3], v[3:7], scene.light_direction * 1.7, scene.eye[0])]
    assert torch.autograd.gradcheck(loss, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_shadow_coverage_and_its_derivative_in_closed_form():
    """With ambient 0, directional 1, a black triangle and a white ground, every pixel holds
    RGB = sum_k cos_k * (ground face k visible and lit) with cos_k = n_k . d, and alpha = triangle
    + visible ground. So, with shoelace areas of projected polygons (no pixel coverage involved):

    * the shadow's total coverage: sum(cos * alpha - R) * pixel area = cos * (area(triangle) +
      area(shadow)) for the planar quad (cos_0 = cos_1 = cos), the shadow being the projected
      shadow_triangle on the ground plane;
    * sum(R) * pixel area = sum_k cos_k * (area(G_k) - area(G_k ∩ triangle) - area(G_k ∩ shadow_k)).

    Their autograd derivatives must agree with those of the image (the first one with respect to
    the triangle and the light only: its single cos does not follow a ground vertex leaving the
    plane), in particular along the light direction, which must move the image."""
    scene = shadow_truth_scene(32)
    v = scene.vertices[0]
    triangle, ground = v[:3].clone().requires_grad_(True), v[3:7].clone().requires_grad_(True)
    direction = (scene.light_direction * 1.3).requires_grad_(True)
    image = shadow_scene_image(triangle, ground, direction, scene.eye[0], 32, triangle_color=(0.0, 0.0, 0.0),
                               ground_color=(1.0, 1.0, 1.0), ambient_intensity=0.0, directional_intensity=1.0)
    torch.testing.assert_close(image[0], image[1], rtol=0, atol=1e-15)
    torch.testing.assert_close(image[1], image[2], rtol=0, atol=1e-15)
    d = direction / direction.norm()

    def screen(points: torch.Tensor) -> torch.Tensor:
        return project(points[None], scene.eye)[0, :, :2]

    def area(polygon: torch.Tensor) -> torch.Tensor:
        return polygon_area(polygon).abs() if polygon.shape[0] else 0 * triangle.sum()

    cos = unit_normal(ground) @ d
    triangle_xy, shadow_xy = screen(triangle), screen(shadow_triangle(triangle, ground, d))
    dark = (cos * image[3] - image[0]).sum() * pixel_area(32)
    dark_closed = cos * (area(triangle_xy) + area(shadow_xy))
    red = image[0].sum() * pixel_area(32)
    red_closed = 0 * cos
    for face in GROUND_FACES:
        corners = ground[list(face)]
        face_xy, face_shadow_xy = screen(corners), screen(shadow_triangle(triangle, corners, d))
        red_closed = red_closed + (unit_normal(corners) @ d) * (
            area(face_xy) - area(clip_convex(face_xy, triangle_xy)) - area(clip_convex(face_shadow_xy, face_xy)))
    hidden = area(clip_convex(screen(ground), triangle_xy))
    assert float(area(shadow_xy).detach()) > 0.01 and float(hidden.detach()) > 0.001  # shadow; occluded ground
    for value, closed, inputs in ((dark, dark_closed, (triangle, direction)),
                                  (red, red_closed, (triangle, ground, direction))):
        torch.testing.assert_close(value, closed, rtol=1e-12, atol=1e-12)
        grads = torch.autograd.grad(value, inputs, retain_graph=True)
        closed_grads = torch.autograd.grad(closed, inputs, retain_graph=True)
        for g, c in zip(grads, closed_grads):
            torch.testing.assert_close(g, c, rtol=1e-9, atol=1e-11)
        assert float(grads[-1].norm()) > 1e-3  # the light's direction moves the image
