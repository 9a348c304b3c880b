"""Pose recovery (renderers.fidelity.pose): rotation maths, offsets, metrics and a short recovery."""

from __future__ import annotations

import math

import pytest
import torch

import renderers
from renderers.fidelity import pose as P


def _random_axis_angles(count: int, seed: int = 0, max_angle: float = 3.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    axes = torch.nn.functional.normalize(torch.randn(count, 3, generator=gen, dtype=torch.float64), dim=-1)
    angles = torch.rand(count, 1, generator=gen, dtype=torch.float64) * max_angle
    return axes * angles


def test_axis_angle_gives_rotations_of_the_right_angle_and_axis():
    rs = _random_axis_angles(20)
    mats = P.axis_angle_to_matrix(rs)
    eye = torch.eye(3, dtype=torch.float64)
    assert torch.allclose(mats @ mats.transpose(-1, -2), eye.expand_as(mats), atol=1e-12)
    assert torch.allclose(torch.linalg.det(mats), torch.ones(20, dtype=torch.float64), atol=1e-12)
    angles = rs.norm(dim=-1)
    cos = (mats.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    assert torch.allclose(cos, torch.cos(angles), atol=1e-12)
    axes = rs / angles[:, None]
    assert torch.allclose((mats @ axes[..., None]).squeeze(-1), axes, atol=1e-12)  # the axis is fixed
    # right-handed: +90 degrees about z takes x to y
    quarter = P.axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64))
    assert torch.allclose(quarter @ torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64),
                          torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), atol=1e-12)
    # the inverse map round-trips, near 0 and near pi too
    rs = torch.cat((rs, torch.tensor([[1e-9, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, math.pi - 1e-7, 0.0]], dtype=torch.float64)))
    back = P.matrix_to_axis_angle(P.axis_angle_to_matrix(rs))
    assert torch.allclose(back, rs, atol=1e-6)


def test_apply_pose_rotates_about_the_origin_then_translates():
    vertices, _, _ = P.pose_scene(torch.float64)
    r = torch.tensor([0.3, -0.5, 0.2], dtype=torch.float64)
    t = torch.tensor([0.1, 0.2, -0.3], dtype=torch.float64)
    posed = P.apply_pose(vertices, t, r)
    assert torch.allclose(posed, vertices @ P.axis_angle_to_matrix(r).T + t, atol=1e-12)
    # a rigid motion: pairwise distances are kept, the centroid moves to R c + t
    def distances(v):
        return (v[:, None] - v[None]).norm(dim=-1)

    assert torch.allclose(distances(posed), distances(vertices), atol=1e-12)
    assert torch.allclose(posed.mean(0), P.axis_angle_to_matrix(r) @ vertices.mean(0) + t, atol=1e-12)


def test_apply_pose_is_safe_and_exact_at_zero_angle():
    vertices, _, _ = P.pose_scene(torch.float64)
    r = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    t = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    posed = P.apply_pose(vertices, t, r)
    assert torch.equal(posed, vertices)
    weights = torch.randn(posed.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    (posed * weights).sum().backward()
    assert torch.isfinite(r.grad).all() and torch.isfinite(t.grad).all()
    # d/dr of R(r) v at r = 0 is -[v]x: the gradient is sum_i v_i x w_i
    assert torch.allclose(r.grad, torch.cross(vertices, weights, dim=-1).sum(0), atol=1e-10)
    assert torch.allclose(t.grad, weights.sum(0), atol=1e-12)
    # and the gradient is continuous across the small-angle switch
    direction = torch.nn.functional.normalize(torch.tensor([0.3, -0.4, 0.5], dtype=torch.float64), dim=0)
    values, grads = [], []
    for angle in (0.999e-3, 1.001e-3):  # either side of the switch at 1e-3 rad
        r = (direction * angle).requires_grad_(True)
        value = (P.apply_pose(vertices, t.detach(), r) * weights).sum()
        value.backward()
        values.append(value.detach())
        grads.append(r.grad)
    assert torch.allclose(values[0], values[1], rtol=1e-5)
    assert torch.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-8)


def test_apply_pose_gradient_matches_finite_differences():
    vertices, _, _ = P.pose_scene(torch.float64)
    vertices = vertices[:10]
    r = torch.tensor([0.2, 0.1, -0.3], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.05, 0.0, 0.1], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t, r: P.apply_pose(vertices, t, r), (t, r))
    tiny = torch.tensor([1e-5, -2e-5, 1e-5], dtype=torch.float64, requires_grad=True)  # inside the Taylor branch
    assert torch.autograd.gradcheck(lambda t, r: P.apply_pose(vertices, t, r), (t, tiny))


def test_rotation_error_on_known_rotations():
    z = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    x = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    assert P.rotation_error_deg(z * math.radians(30), z * math.radians(10)) == pytest.approx(20.0, abs=1e-9)
    assert P.rotation_error_deg(z * math.radians(10), -z * math.radians(15)) == pytest.approx(25.0, abs=1e-9)
    assert P.rotation_error_deg(x * math.radians(90), z * math.radians(90)) == pytest.approx(120.0, abs=1e-9)
    assert P.rotation_error_deg(z * math.radians(170), -z * math.radians(170)) == pytest.approx(20.0, abs=1e-7)
    assert P.rotation_error_deg(z * 1e-6, torch.zeros(3)) == pytest.approx(math.degrees(1e-6), rel=1e-6)
    assert P.rotation_error_deg(x * 0.4, x * 0.4) == pytest.approx(0.0, abs=1e-9)
    # composed offsets: R(dr) R(r) is |dr| away from R(r), whatever r
    r = torch.tensor([0.2, -0.7, 0.4], dtype=torch.float64)
    dr = torch.tensor([0.1, 0.05, -0.2], dtype=torch.float64)
    _, start = P.compose_offset((torch.zeros(3), r), (torch.zeros(3), dr))
    assert P.rotation_error_deg(start, r) == pytest.approx(math.degrees(float(dr.norm())), abs=1e-9)
    assert P.translation_error(torch.tensor([3.0, 4.0, 0.0]), torch.zeros(3)) == pytest.approx(5.0)


def test_starting_offsets_are_reproducible_with_the_requested_magnitudes():
    a = P.starting_offsets(16, seed=5, translation_scale=0.05, rotation_scale_deg=10.0)
    b = P.starting_offsets(16, seed=5, translation_scale=0.05, rotation_scale_deg=10.0)
    c = P.starting_offsets(16, seed=6, translation_scale=0.05, rotation_scale_deg=10.0)
    assert len(a) == 16
    assert all(torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) for x, y in zip(a, b))
    assert not torch.equal(torch.stack([x[0] for x in a]), torch.stack([x[0] for x in c]))
    fewer = P.starting_offsets(3, seed=5, translation_scale=0.05, rotation_scale_deg=10.0)
    assert all(torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) for x, y in zip(fewer, a))  # a prefix
    dt = torch.stack([x[0] for x in a])
    dr = torch.stack([x[1] for x in a])
    assert torch.allclose(dt.norm(dim=-1), torch.full((16,), 0.05, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(dr.norm(dim=-1), torch.full((16,), math.radians(10.0), dtype=torch.float64), atol=1e-12)
    # spread over the sphere, translation directions independent of rotation axes
    assert (dt / 0.05).mean(0).norm() < 0.6
    assert not torch.allclose(dt / dt.norm(dim=-1, keepdim=True), dr / dr.norm(dim=-1, keepdim=True))
    # start poses are exactly that far from the true pose
    for offset in a[:4]:
        t0, r0 = P.compose_offset(P.TRUE_POSE, offset)
        assert P.translation_error(t0, torch.tensor(P.TRUE_POSE[0], dtype=torch.float64)) == pytest.approx(0.05, abs=1e-9)
        assert P.rotation_error_deg(r0, torch.tensor(P.TRUE_POSE[1], dtype=torch.float64)) == pytest.approx(10.0, abs=1e-7)


def test_pose_scene_is_coloured_and_not_symmetric():
    vertices, faces, colors = P.pose_scene()
    assert vertices.dtype == torch.float32 and colors.shape == vertices.shape and faces.dtype == torch.int64
    assert colors.min() >= 0 and colors.max() <= 1
    extent = vertices.amax(0) - vertices.amin(0)
    assert extent[0] > 1.4 * extent[1]  # stretched: no axis of rotational symmetry


def test_recover_pose_with_softras_reduces_the_error():
    torch.set_num_threads(1)
    renderer = renderers.create("softras", image_size=32)
    scene = P.pose_scene()
    eye = renderers.points_from_angles(*P.DEFAULT_EYE)
    offset = P.starting_offsets(1, seed=0, translation_scale=0.05, rotation_scale_deg=10.0)[0]
    start = P.compose_offset(P.TRUE_POSE, offset)
    # lr below the 64-pixel default: at 32 pixels sigma = 1e-5 is nearly a hard edge
    result = P.recover_pose(renderer, scene, eye, P.TRUE_POSE, start, steps=80, lr=0.01)
    assert result.initial_translation_error == pytest.approx(0.05, abs=1e-6)
    assert result.initial_rotation_error_deg == pytest.approx(10.0, abs=1e-4)
    assert len(result.losses) == 80 and len(result.translation_errors) == 80
    assert result.losses[-1] < 0.2 * result.losses[0]
    assert result.translation_error < result.initial_translation_error / 3
    assert result.rotation_error_deg < result.initial_rotation_error_deg / 3


def test_recover_pose_uses_a_given_target_and_stays_at_the_truth():
    torch.set_num_threads(1)
    renderer = renderers.create("softras", image_size=24)
    scene = P.pose_scene()
    eye = renderers.points_from_angles(*P.DEFAULT_EYE)
    # started at the truth on its own target, it stays there
    stay = P.recover_pose(renderer, scene, eye, P.TRUE_POSE, P.TRUE_POSE, steps=5)
    assert stay.losses[0] == 0.0 and stay.translation_error < 0.01 and stay.rotation_error_deg < 1.0
    # a blank target is fitted by moving the object away: the target is the one given
    blank = torch.zeros(1, 4, 24, 24)
    moved = P.recover_pose(renderer, scene, eye, P.TRUE_POSE, P.TRUE_POSE, steps=5, target=blank)
    assert moved.losses[0] > 0.01 and moved.translation_error > 0.01
    with pytest.raises(ValueError, match="loss"):
        P.recover_pose(renderer, scene, eye, P.TRUE_POSE, P.TRUE_POSE, steps=1, loss="huber")


def test_pose_recovery_table_rows():
    torch.set_num_threads(1)
    rows = P.pose_recovery_table(
        {"softras": lambda image_size: renderers.create("softras", image_size=image_size)},
        magnitudes=[(0.0, 0.0), (0.05, 10.0)], starts_per_magnitude=1, steps=3, image_size=16, seed=0,
    )
    assert [(r["renderer"], r["translation_offset"], r["rotation_offset_deg"]) for r in rows] == [
        ("softras", 0.0, 0.0), ("softras", 0.05, 10.0)]
    keys = {"success_rate", "median_translation_error", "median_rotation_error_deg", "seconds_per_run"}
    assert all(keys <= set(r) for r in rows)
    assert rows[0]["success_rate"] == 1.0 and rows[1]["success_rate"] == 0.0  # 3 steps do not get there
    assert rows[1]["median_rotation_error_deg"] > 5.0
    with pytest.raises(ValueError, match="image_size"):
        P.pose_recovery_table({"x": lambda: renderers.create("softras", image_size=8)}, [(0.0, 0.0)], 1, 1, 16, 0)
