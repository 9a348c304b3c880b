"""The benchmark's ground truth: its scenes, and its finite-difference machinery checked against
the closed forms where both exist."""

from __future__ import annotations

import dataclasses

import torch

from renderers.fidelity.truth import (
    finite_difference_derivatives,
    iou_loss,
    linear_loss,
    shifted_target,
    supersampled_image,
    truth_scenes,
)


def test_scenes_have_a_truth_and_render():
    scenes = truth_scenes(16)
    assert {s.name for s in scenes} >= {"triangle", "convex mesh", "occlusion", "illumination"}
    for scene in scenes:
        assert (scene.exact is None) == (scene.directions is not None)
        image = scene.exact(scene.vertices) if scene.exact else supersampled_image(scene, scene.vertices, 4)
        assert image.shape == (1, 4, 16, 16) and image.min() >= -1e-12 and image.max() <= 1 + 1e-12
        assert 0 < float(image[0, 3].mean()) < 1  # on screen, not covering everything
        if scene.directions is not None:  # root-mean-square vertex displacement 1
            rms = scene.directions.square().sum(-1).mean(-1).sqrt()
            torch.testing.assert_close(rms, torch.ones_like(rms))


def test_supersampled_image_approaches_the_exact_image():
    for scene in truth_scenes(16)[:3]:
        error = (supersampled_image(scene, scene.vertices, 32) - scene.exact(scene.vertices)).abs().mean()
        assert float(error) < 2e-3, scene.name  # 32 x 32 point samples per pixel


def test_finite_differences_agree_with_the_closed_form_within_their_error_bar():
    """On the exact scenes, central differences of the supersampled render (the truth of the other
    scenes) along translations must match the autograd derivative of the exact image."""
    for scene in truth_scenes(16)[:3]:
        v = scene.vertices[0]
        moves = torch.stack((torch.tensor([1.0, 0.0, 0.0], dtype=v.dtype).expand_as(v),
                             torch.tensor([0.0, 1.0, 0.0], dtype=v.dtype).expand_as(v)))
        probe = dataclasses.replace(scene, directions=moves, step=0.25 * 2 * 2.732 * 0.2679 / 16)
        weights = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        for loss in (linear_loss(weights), iou_loss(shifted_target(scene))):
            fd, bars = finite_difference_derivatives(probe, loss, factor=32)
            x = scene.vertices.clone().requires_grad_(True)
            loss(scene.exact(x)).backward()
            exact = (x.grad[0][None] * moves).flatten(1).sum(1)
            assert float((fd - exact).norm()) < 0.02 * float(exact.norm()) + 3 * float(bars.norm()), scene.name
