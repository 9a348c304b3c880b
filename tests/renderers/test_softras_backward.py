"""The compiled SoftRas gradients equal the reference's autograd gradients; gradcheck; determinism."""

from __future__ import annotations

import itertools

import pytest
import torch

from renderers.reference import soft_rasterize_reference
from renderers.softras import SoftRasOptions, soft_rasterize

from .conftest import random_screen_faces, random_textures, reference_kwargs


def _gradients(fn, faces, textures, upstream):
    faces = faces.clone().requires_grad_(True)
    textures = None if textures is None else textures.clone().requires_grad_(True)
    (fn(faces, textures) * upstream).sum().backward()
    return faces.grad, None if textures is None else textures.grad


MODES = list(itertools.product(("euclidean", "barycentric"), ("prod", "sum"), ("softmax", "hard", None)))


@pytest.mark.parametrize(("dist_func", "aggr_alpha", "aggr_rgb"), MODES)
@pytest.mark.parametrize("kind", ["surface", "vertex"])
def test_gradients_match_reference_float64(dist_func, aggr_alpha, aggr_rgb, kind):
    faces = random_screen_faces(batch=2, num_faces=30, dtype=torch.float64, seed=21)
    textures = None if aggr_rgb is None else random_textures(faces, kind, res=2)
    options = SoftRasOptions(
        image_size=24, sigma=3e-3, gamma=5e-2, dist_func=dist_func, aggr_alpha=aggr_alpha,
        aggr_rgb=aggr_rgb or "softmax", background=(0.1, 0.2, 0.3),
    )
    upstream = torch.randn(2, 4, 24, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours = _gradients(lambda f, t: soft_rasterize(f, t, options, kind), faces, textures, upstream)
    reference = _gradients(
        lambda f, t: soft_rasterize_reference(f, t, kind=kind, **reference_kwargs(options)), faces, textures, upstream
    )
    scale = reference[0].abs().max()
    assert scale > 0
    torch.testing.assert_close(ours[0], reference[0], rtol=0, atol=1e-10 * float(scale))
    if textures is not None:
        torch.testing.assert_close(ours[1], reference[1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("aggr_rgb", ["softmax", None])
def test_gradients_match_reference_float32_training_settings(aggr_rgb):
    """The training configuration (sigma 1e-4, dist_eps 1e-10) in float32 against the float64
    reference (degenerate faces are left out here: rounding decides their orientation)."""
    faces = random_screen_faces(batch=2, num_faces=50, seed=23, size=0.3, special=False)
    textures = None if aggr_rgb is None else random_textures(faces, "vertex")
    options = SoftRasOptions(image_size=32, sigma=1e-4, dist_eps=1e-10, gamma=1e-3, aggr_rgb=aggr_rgb or "softmax")
    upstream = torch.randn(2, 4, 32, 32, generator=torch.Generator().manual_seed(1))
    ours = _gradients(lambda f, t: soft_rasterize(f, t, options, "vertex"), faces, textures, upstream)
    reference = _gradients(
        lambda f, t: soft_rasterize_reference(f.double(), None if t is None else t.double(), kind="vertex",
                                              **reference_kwargs(options)).float(),
        faces, textures, upstream,
    )
    scale = float(reference[0].abs().max())
    torch.testing.assert_close(ours[0], reference[0], rtol=1e-3, atol=1e-4 * scale)
    if textures is not None:
        torch.testing.assert_close(ours[1], reference[1], rtol=1e-3, atol=1e-4)


def test_degenerate_faces_give_finite_gradients_float32():
    faces = random_screen_faces(batch=2, num_faces=30, seed=29).requires_grad_(True)
    textures = random_textures(faces, "vertex").requires_grad_(True)
    image = soft_rasterize(faces, textures, SoftRasOptions(image_size=32, sigma=1e-4, gamma=1e-4), "vertex")
    (image * torch.randn_like(image)).sum().backward()
    assert torch.isfinite(faces.grad).all() and torch.isfinite(textures.grad).all()


def _tiny_scene(dtype=torch.float64):
    faces = torch.tensor(
        [[[[-0.6, -0.5, 2.0], [0.5, -0.4, 2.5], [0.0, 0.6, 3.0]], [[-0.2, -0.7, 2.2], [0.7, 0.1, 2.1], [-0.4, 0.5, 2.8]]]],
        dtype=dtype,
    )
    return faces


@pytest.mark.parametrize(("dist_func", "aggr_alpha"), [("euclidean", "prod"), ("barycentric", "sum"), ("euclidean", "sum")])
@pytest.mark.parametrize("kind", ["surface", "vertex"])
def test_gradcheck(dist_func, aggr_alpha, kind):
    """Finite differences agree with the analytic backward (smooth settings: R = 1 texels,
    coverage cut-off far below the tolerance, depths inside [near, far])."""
    faces = _tiny_scene()
    textures = random_textures(faces, kind, res=1).double()
    options = SoftRasOptions(
        image_size=8, sigma=2e-2, gamma=0.5, dist_eps=1e-12, dist_func=dist_func, aggr_alpha=aggr_alpha,
    )
    faces.requires_grad_(True)
    textures.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda f, t: soft_rasterize(f, t, options, kind), (faces, textures), eps=1e-7, atol=1e-6, rtol=1e-4
    )


def test_gradcheck_silhouette():
    faces = _tiny_scene().requires_grad_(True)
    options = SoftRasOptions(image_size=8, sigma=1e-2, dist_eps=1e-12)
    assert torch.autograd.gradcheck(lambda f: soft_rasterize(f, None, options), (faces,), eps=1e-7, atol=1e-6)


def _run(faces, textures, options, upstream):
    faces = faces.clone().requires_grad_(True)
    textures = textures.clone().requires_grad_(True)
    image = soft_rasterize(faces, textures, options, "surface")
    (image * upstream).sum().backward()
    return image.detach(), faces.grad, textures.grad


def test_deterministic_across_runs_and_thread_counts():
    faces = random_screen_faces(batch=3, num_faces=200, seed=31, size=0.2)
    textures = random_textures(faces, "surface", res=2)
    options = SoftRasOptions(image_size=48, sigma=1e-4, gamma=1e-3)
    upstream = torch.randn(3, 4, 48, 48, generator=torch.Generator().manual_seed(2))
    results = []
    for threads in (1, 2, 1, 2):
        torch.set_num_threads(threads)
        results.append(_run(faces, textures, options, upstream))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert torch.equal(a, b)
