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


def _lit_scene():
    vertices, faces = _sphere(0.3, subdivisions=1)
    eye = renderers.points_from_angles(2.732, 30.0, 10.0)[None].double()
    return vertices.double().expand(2, -1, -1), faces, eye.expand(2, -1)


def test_lighting_tensors_receive_gradients_shared_and_per_image(name):
    vertices, faces, eye = _lit_scene()
    colours = torch.rand(2, vertices.shape[1], 3, dtype=torch.float64)
    lights = renderers.Lighting(
        ambient_intensity=torch.tensor(0.4, dtype=torch.float64, requires_grad=True),
        ambient_color=torch.tensor([1.0, 0.9, 0.8], dtype=torch.float64, requires_grad=True),
        directional_intensity=torch.tensor([0.6, 0.3], dtype=torch.float64, requires_grad=True),  # per image
        directional_color=torch.tensor([[1.0, 1.0, 0.9], [0.8, 1.0, 1.0]], dtype=torch.float64, requires_grad=True),
        direction=torch.tensor([0.3, 1.0, -0.4], dtype=torch.float64, requires_grad=True),
    )
    renderer = _create(name, image_size=24, seed=0) if name == "edge" else _create(name, image_size=24)
    image = renderer(vertices, faces, eye, colours, lights=lights)
    (image * torch.randn_like(image)).sum().backward()
    for field in ("ambient_intensity", "ambient_color", "directional_intensity", "directional_color", "direction"):
        grad = getattr(lights, field).grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, field
    # the direction is normalised: its gradient is orthogonal to it
    assert abs(float(lights.direction.grad @ lights.direction.detach())) < 1e-9 * float(lights.direction.grad.norm())
    # tensors equal to the options render the same image as the options
    same = renderers.Lighting(*(torch.as_tensor(v, dtype=torch.float64) for v in (0.5, (1.0,) * 3, 0.5, (1.0,) * 3, (0.0, 1.0, 0.0))))
    torch.testing.assert_close(renderer(vertices, faces, eye, colours, lights=same), renderer(vertices, faces, eye, colours))


def test_lighting_gradient_is_exact(name):
    """With the geometry fixed, the image is smooth in the light parameters (colours enter every
    renderer linearly): float64 gradcheck of intensities, colours and direction."""
    vertices, faces, eye = _lit_scene()
    colours = torch.rand(2, vertices.shape[1], 3, dtype=torch.float64)
    renderer = _create(name, image_size=12, seed=0) if name == "edge" else _create(name, image_size=12)
    weights = torch.randn(2, 4, 12, 12, dtype=torch.float64)

    def loss(ambient, colour, intensity, direction):
        lights = renderers.Lighting(ambient, colour, intensity, (1.0, 1.0, 1.0), direction)
        return (renderer(vertices, faces, eye, colours, lights=lights) * weights).sum()

    inputs = (torch.tensor(0.4, dtype=torch.float64), torch.tensor([0.9, 1.0, 0.7], dtype=torch.float64),
              torch.tensor([0.6, 0.5], dtype=torch.float64), torch.tensor([0.3, 1.0, -0.4], dtype=torch.float64))
    assert torch.autograd.gradcheck(loss, tuple(t.requires_grad_(True) for t in inputs), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("direction", torch.zeros(3), "zero vector"),
        ("ambient_color", torch.ones(4), r"shape \(3,\) or \(2, 3\)"),
        ("directional_intensity", torch.tensor([-1.0, 0.5]), "non-negative"),
        ("ambient_intensity", torch.tensor(float("nan")), "NaN"),
    ],
)
def test_bad_lighting_is_refused(name, field, value, message):
    vertices, faces, eye = _lit_scene()
    with pytest.raises(ValueError, match=message):
        _create(name, image_size=8)(vertices, faces, eye, lights=renderers.Lighting(**{field: value.double()}))
