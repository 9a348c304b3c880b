"""Edge sampling against finite differences of a heavily supersampled render, on the scenes without
a closed form (renderers.fidelity.truth): a self-occluding lit non-convex mesh, the same partly
off-screen, and the smooth-shaded sphere turned about its centre. Slow: run with ``-m slow``.

The truth is the central difference of the loss of a 16x supersampled z-buffer image along a few
random unit directions of all vertices; its error bar is the difference from the estimate at twice
the step. The seed-averaged edge-sampling derivatives must agree within 1 % of the truth's norm
plus three error bars (the truth is itself an estimate).
"""

from __future__ import annotations

import pytest
import torch

import renderers
from renderers.fidelity.truth import finite_difference_derivatives, iou_loss, linear_loss, shifted_target, truth_scenes

pytestmark = pytest.mark.slow

SCENES = {scene.name: scene for scene in truth_scenes(32) if scene.exact is None}


@pytest.mark.parametrize("name", sorted(SCENES))
@pytest.mark.parametrize("loss_name", ["linear", "iou"])
def test_seed_averaged_derivatives_match_finite_differences(name, loss_name):
    scene = SCENES[name]
    weights = torch.randn(1, 4, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    loss = linear_loss(weights) if loss_name == "linear" else iou_loss(shifted_target(scene))
    truth, bars = finite_difference_derivatives(scene, loss)
    renderer = renderers.create("edge", image_size=32, edge_samples=4096, samples_per_pixel=16, **scene.light)
    estimates = []
    for seed in range(32):
        vertices = scene.vertices.clone().requires_grad_(True)
        loss(renderer(vertices, scene.faces, scene.eye, scene.textures, seed=seed)).backward()
        estimates.append((vertices.grad[0][None] * scene.directions).flatten(1).sum(1))
    mean = torch.stack(estimates).mean(0)
    error = float((mean - truth).norm())
    assert error < 0.01 * float(truth.norm()) + 3 * float(bars.norm()), (mean, truth, bars)
