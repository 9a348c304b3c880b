"""Camera conventions of REFERENCE section 4."""

from __future__ import annotations

import math

import pytest
import torch

import renderers
from renderers.camera import look_at, look_at_rotation, perspective


def test_points_from_angles_formula_and_broadcasting():
    eye = renderers.points_from_angles(2.732, 30.0, -15.0 * torch.arange(24))
    assert eye.shape == (24, 3)
    torch.testing.assert_close(eye.norm(dim=-1), torch.full((24,), 2.732))
    e, a = math.radians(30.0), math.radians(-15.0)
    expected = torch.tensor([2.732 * math.cos(e) * math.sin(a), 2.732 * math.sin(e), -2.732 * math.cos(e) * math.cos(a)])
    torch.testing.assert_close(eye[1], expected)
    grid = renderers.points_from_angles(torch.tensor([[1.0], [2.0]]), 0.0, torch.tensor([0.0, 90.0]))
    assert grid.shape == (2, 2, 3)
    torch.testing.assert_close(grid[1, 1], torch.tensor([2.0, 0.0, 0.0]), atol=1e-6, rtol=0)


def test_look_at_frame():
    eye = renderers.points_from_angles(2.732, 30.0, -15.0 * torch.arange(24)).double()
    rotation = look_at_rotation(eye)
    torch.testing.assert_close(rotation @ rotation.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(24, 3, 3))
    # The origin lies straight ahead at distance |eye|, the eye itself at the camera centre.
    origin = look_at(torch.zeros(24, 1, 3, dtype=torch.float64), eye)
    torch.testing.assert_close(origin[:, 0], torch.tensor([0.0, 0.0, 2.732], dtype=torch.float64).expand(24, 3))
    torch.testing.assert_close(look_at(eye[:, None], eye), torch.zeros(24, 1, 3, dtype=torch.float64))


def test_view_zero_orientation():
    """Azimuth 0 looks along +Z: world +X is image right, +Y is image up (mirror-handed)."""
    eye = renderers.points_from_angles(2.732, 0.0, 0.0)[None]
    screen = renderers.project(torch.tensor([[[0.2, 0.0, 0.0], [0.0, 0.2, 0.0]]]), eye, 15.0)
    assert screen[0, 0, 0] > 0 and abs(screen[0, 0, 1]) < 1e-6
    assert screen[0, 1, 1] > 0 and abs(screen[0, 1, 0]) < 1e-6


def test_camera_above_target_is_defined():
    rotation = look_at_rotation(torch.tensor([[0.0, 3.0, 0.0]]))
    assert torch.isfinite(rotation).all()
    torch.testing.assert_close(rotation @ rotation.transpose(1, 2), torch.eye(3)[None])


def test_perspective_half_angle():
    point = torch.tensor([[[math.tan(math.radians(15.0)) * 4.0, 0.0, 4.0]]])
    torch.testing.assert_close(perspective(point, 15.0), torch.tensor([[[1.0, 0.0, 4.0]]]))


@pytest.mark.parametrize("azimuth", [0.0, 75.0, -150.0])
def test_front_faces_survive_single_sided_rendering(azimuth):
    """An outward, counter-clockwise triangle facing the camera is drawn single-sided; reversed, it is culled."""
    eye = renderers.points_from_angles(2.732, 20.0, azimuth)[None]
    towards = torch.nn.functional.normalize(eye, dim=-1)[0]
    helper = torch.tensor([0.0, 1.0, 0.0]) if abs(float(towards[1])) < 0.9 else torch.tensor([1.0, 0.0, 0.0])
    u = torch.nn.functional.normalize(torch.linalg.cross(helper, towards), dim=0) * 0.4
    w = torch.linalg.cross(towards, u)
    vertices = torch.stack((-u - w, u - w, w))[None]  # normal (v1 - v0) x (v2 - v0) points at the camera
    normal = torch.linalg.cross(vertices[0, 1] - vertices[0, 0], vertices[0, 2] - vertices[0, 0])
    assert torch.dot(normal, towards) > 0
    renderer = renderers.create("softras", image_size=32, sigma=1e-4, double_sided=False)
    front = renderer(vertices, torch.tensor([[0, 1, 2]]), eye)
    back = renderer(vertices, torch.tensor([[0, 2, 1]]), eye)
    assert front[0, 3].max() > 0.99
    assert back[0, 3].max() == 0
