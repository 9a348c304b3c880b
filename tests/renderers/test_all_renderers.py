"""What every registered renderer must do, whatever its method: iterates over
``renderers.available()``, so a new renderer is covered by registering it."""

from __future__ import annotations

import math

import pytest
import torch
import trimesh

import renderers


@pytest.fixture(params=renderers.available())
def name(request) -> str:
    return request.param


def _sphere(radius: float = 0.3, subdivisions: int = 3):
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return torch.tensor(mesh.vertices, dtype=torch.float32)[None], torch.tensor(mesh.faces, dtype=torch.int64)


def _create(name: str, sharp: bool = False, **options) -> renderers.Renderer:
    if name == "softras":  # sharp: a silhouette comparable with the hard renderers'; else the recipe's blur
        options.setdefault("sigma", 1e-5 if sharp else 1e-4)
    return renderers.create(name, **options)


def test_sphere_silhouette_covers_its_projection(name):
    vertices, faces = _sphere(0.3)
    eye = renderers.points_from_angles(2.732, 30.0, -15.0 * torch.arange(3.0))
    alpha = _create(name, sharp=True, image_size=64, silhouette_only=True)(vertices.expand(3, -1, -1), faces, eye)[:, 3]
    assert alpha.min() >= 0 and alpha.max() <= 1
    ndc_radius = math.tan(math.asin(0.3 / 2.732)) / math.tan(math.radians(15.0))
    expected = math.pi * ndc_radius**2 / 4.0
    measured = alpha.mean(dim=(1, 2))
    assert ((measured - expected).abs() < 0.1 * expected).all()  # within 10 % at 64 x 64 (OpenDR's rim included)


def test_colour_image_and_gradients_are_finite(name):
    vertices, faces = _sphere(0.3, subdivisions=2)
    vertices = vertices.double().requires_grad_(True)
    colours = torch.rand(1, vertices.shape[1], 3, dtype=torch.float64, requires_grad=True)
    eye = renderers.points_from_angles(2.732, 30.0, 10.0)[None].double().requires_grad_(True)
    image = _create(name, image_size=32)(vertices, faces, eye, colours)
    assert image.dtype == torch.float64 and image.shape == (1, 4, 32, 32) and torch.isfinite(image).all()
    (image * torch.randn_like(image)).sum().backward()
    for tensor in (vertices, colours, eye):
        assert torch.isfinite(tensor.grad).all() and tensor.grad.abs().sum() > 0


def test_silhouette_loss_moves_the_mesh_towards_a_shifted_target(name):
    vertices, faces = _sphere(0.2)
    eye = renderers.points_from_angles(2.732, 0.0, 0.0)[None]
    renderer = _create(name, image_size=32, silhouette_only=True)
    for axis in (0, 1):
        shift = torch.zeros(3)
        shift[axis] = 0.03  # about one pixel
        target = renderer(vertices + shift, faces, eye)[:, 3].detach()
        offset = torch.zeros(3, requires_grad=True)
        alpha = renderer(vertices + offset, faces, eye)[:, 3]
        (1 - (alpha * target).sum() / (alpha + target - alpha * target).sum()).backward()
        assert offset.grad[axis] < 0
