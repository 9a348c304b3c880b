"""End to end: world meshes through the camera, lighting and SoftRas, against closed forms."""

from __future__ import annotations

import math

import pytest
import torch
import trimesh

import renderers


def _sphere(radius: float = 0.3, subdivisions: int = 3):
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return torch.tensor(mesh.vertices, dtype=torch.float32)[None], torch.tensor(mesh.faces, dtype=torch.int64)


def test_sphere_silhouette_area_matches_projection():
    """A sphere of radius r seen from distance d covers a disk of NDC radius tan(asin(r/d)) / tan(a)."""
    vertices, faces = _sphere(0.3, subdivisions=4)
    eye = renderers.points_from_angles(2.732, 30.0, -15.0 * torch.arange(4).float())
    renderer = renderers.create("softras", image_size=128, aggr_alpha="hard", silhouette_only=True)
    alpha = renderer(vertices.expand(4, -1, -1), faces, eye)[:, 3]
    ndc_radius = math.tan(math.asin(0.3 / 2.732)) / math.tan(math.radians(15.0))
    expected_fraction = math.pi * ndc_radius**2 / 4.0
    measured = alpha.mean(dim=(1, 2))
    # Pixel sampling and the inscribed icosphere keep the two within 2 %.
    torch.testing.assert_close(measured, torch.full_like(measured, expected_fraction), rtol=0.02, atol=0)


def test_object_offsets_appear_where_the_camera_convention_says():
    vertices, faces = _sphere(0.1)
    eye = renderers.points_from_angles(2.732, 0.0, 0.0)[None]
    renderer = renderers.create("softras", image_size=64, sigma=1e-5, silhouette_only=True)
    right_up = renderer(vertices + torch.tensor([0.3, 0.3, 0.0]), faces, eye)[0, 3]
    rows, cols = torch.nonzero(right_up > 0.5, as_tuple=True)
    assert cols.float().mean() > 40 and rows.float().mean() < 24  # right half, top half


def test_lighting_from_above():
    vertices, faces = _sphere(0.3)
    eye = renderers.points_from_angles(2.732, 0.0, 0.0)[None]
    renderer = renderers.create("softras", image_size=64, sigma=1e-5, gamma=1e-4, aggr_rgb="hard")
    image = renderer(vertices, faces, eye)
    top, bottom = image[0, 0, 20:24, 30:34].mean(), image[0, 0, 38:42, 30:34].mean()
    torch.testing.assert_close(float(bottom), 0.5)  # lower half: ambient light only
    assert float(top) > 0.8
    assert image[0, :3].max() <= 1.0 + 1e-6


def test_vertex_and_surface_textures():
    vertices, faces = _sphere(0.3)
    eye = renderers.points_from_angles(2.732, 30.0, 0.0)[None]
    renderer = renderers.create("softras", image_size=32, sigma=1e-4, light_intensity_ambient=1.0,
                                light_intensity_directional=0.0)
    red = torch.zeros(1, vertices.shape[1], 3)
    red[..., 0] = 1.0
    image = renderer(vertices, faces, eye, textures=red)
    inside = image[0, 3] > 0.999
    torch.testing.assert_close(image[0, 0][inside], torch.ones(int(inside.sum())), rtol=0, atol=1e-4)
    assert image[0, 1][inside].abs().max() < 1e-4
    green = torch.zeros(1, faces.shape[0], 4, 3)
    green[..., 1] = 1.0
    image = renderer(vertices, faces, eye, textures=green)
    torch.testing.assert_close(image[0, 1][inside], torch.ones(int(inside.sum())), rtol=0, atol=1e-4)


def test_gradients_reach_world_vertices_and_textures():
    vertices, faces = _sphere(0.3, subdivisions=2)
    vertices = vertices.clone().requires_grad_(True)
    textures = torch.rand(1, vertices.shape[1], 3, requires_grad=True)
    renderer = renderers.create("softras", image_size=32, sigma=1e-4)
    image = renderer(vertices, faces, renderers.points_from_angles(2.732, 30.0, 0.0)[None], textures)
    image.sum().backward()
    assert torch.isfinite(vertices.grad).all() and vertices.grad.abs().sum() > 0
    assert torch.isfinite(textures.grad).all() and textures.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_silhouette_loss_decreases_along_negative_gradient(dtype):
    """Moving a sphere along -grad of an IoU loss towards a target moves it towards the target."""
    vertices, faces = _sphere(0.2)
    vertices = vertices.to(dtype)
    eye = renderers.points_from_angles(2.732, 0.0, 0.0)[None].to(dtype)
    renderer = renderers.create("softras", image_size=32, sigma=1e-4)
    target = renderer(vertices + torch.tensor([0.05, 0.0, 0.0], dtype=dtype), faces, eye)[:, 3].detach()
    offset = torch.zeros(3, dtype=dtype, requires_grad=True)

    def loss():
        alpha = renderer(vertices + offset, faces, eye)[:, 3]
        return 1 - (alpha * target).sum() / (alpha + target - alpha * target).sum()

    before = loss()
    before.backward()
    assert offset.grad[0] < 0
    with torch.no_grad():
        offset -= 0.02 * offset.grad / offset.grad.norm()
    assert loss() < before
