"""NMR gradients: the compiled backward against the reference, loss decrease, textures, corner cases."""

from __future__ import annotations

import pytest
import torch

import renderers
from renderers.nmr import hard_rasterize
from renderers.reference import kato_gradient_reference, nmr_rasterize_reference

from .conftest import assert_deterministic_across_threads, forward_backward, random_screen_faces, random_textures


def _textures(faces: torch.Tensor, kind: str | None, seed: int = 4) -> torch.Tensor | None:
    if kind is None:
        return None
    if kind == "volume":
        gen = torch.Generator().manual_seed(seed)
        return torch.rand(*faces.shape[:2], 27, 3, generator=gen, dtype=torch.float64).to(faces.dtype)
    return random_textures(faces, kind, res=3)


@pytest.mark.parametrize("kind", [None, "vertex", "surface", "volume"])
@pytest.mark.parametrize("double_sided", [True, False])
def test_backward_matches_reference(kind, double_sided):
    faces = random_screen_faces(batch=2, num_faces=30, dtype=torch.float64, seed=23)
    textures = _textures(faces, kind)
    upstream = torch.randn(2, 4, 20, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    options = dict(double_sided=double_sided, background=(0.1, 0.5, 0.9), eps=1e-3)
    ours = forward_backward(hard_rasterize, faces, textures, upstream, kind, **options)
    reference = forward_backward(nmr_rasterize_reference, faces, textures, upstream, kind, **options)
    torch.testing.assert_close(ours[0], reference[0], rtol=0, atol=1e-12)
    scale = float(reference[1].abs().max())
    assert scale > 0
    torch.testing.assert_close(ours[1] / scale, reference[1] / scale, rtol=0, atol=1e-12)
    if textures is not None:
        torch.testing.assert_close(ours[2], reference[2], rtol=0, atol=1e-12)
        if kind != "surface":  # depth changes the perspective-corrected texture coordinates
            assert ours[1][..., 2].abs().max() > 0
    else:
        assert (ours[1][..., 2] == 0).all()


def test_backward_float32_close_to_reference():
    faces = random_screen_faces(batch=2, num_faces=30, dtype=torch.float64, seed=29, special=False)
    upstream = torch.randn(2, 4, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    textures = _textures(faces, "vertex")
    ours = forward_backward(hard_rasterize, faces.float(), textures.float(), upstream.float(), "vertex")
    reference = forward_backward(nmr_rasterize_reference, faces, textures, upstream, "vertex")
    scale = float(reference[1].abs().max())
    torch.testing.assert_close(ours[1].double() / scale, reference[1] / scale, rtol=0, atol=1e-4)
    torch.testing.assert_close(ours[2].double(), reference[2], rtol=0, atol=1e-4)


def test_loss_gate_and_eps():
    """Only loss-reducing moves count (an upstream of all ones only shrinks faces), and the
    displacement is padded by eps (larger eps, smaller gradient)."""
    faces = random_screen_faces(batch=1, num_faces=10, dtype=torch.float64, seed=31, special=False)
    image = hard_rasterize(faces, None, 16)
    from renderers.nmr import rasterize_maps

    index = rasterize_maps(faces, 16).face_index.int()
    ones = torch.ones_like(image)
    grad_small = kato_gradient_reference(faces, image, index, ones, eps=1e-3)
    grad_large = kato_gradient_reference(faces, image, index, ones, eps=1e-1)
    assert grad_small.abs().sum() > grad_large.abs().sum() > 0
    # Reducing the loss sum(alpha) means shrinking: outward moves (which add coverage) never
    # count, so the reference matches a version with the background gradient zeroed out.
    masked = ones * (image[:, 3:] > 0)
    torch.testing.assert_close(kato_gradient_reference(faces, image, index, masked), grad_small)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("anti_aliasing", [True, False])
def test_translated_triangle_loss_decreases_along_negative_gradient(axis, anti_aliasing):
    triangle = torch.tensor([[[-0.4, -0.3, 2.0], [0.1, 0.5, 2.0], [0.45, -0.35, 2.0]]], dtype=torch.float64)
    shift = torch.zeros(3, dtype=torch.float64)
    shift[axis] = 0.15
    renderer = renderers.create("nmr", image_size=32, silhouette_only=True, anti_aliasing=anti_aliasing)
    target = renderer.rasterize((triangle + shift)[None], None, "surface")[:, 3]
    offset = torch.zeros(3, dtype=torch.float64, requires_grad=True)

    def loss(o):
        alpha = renderer.rasterize((triangle + o)[None], None, "surface")[:, 3]
        return 1 - (alpha * target).sum() / (alpha + target - alpha * target).sum()

    before = loss(offset)
    before.backward()
    assert offset.grad[axis] < 0  # towards the target
    assert offset.grad[2] == 0  # silhouettes do not depend on depth
    step = offset.detach().clone()
    for _ in range(5):  # a few steps along the negative gradient keep lowering the loss
        step[axis] -= 0.03 * torch.sign(offset.grad[axis])
        assert loss(step) < before


@pytest.mark.parametrize("kind", ["vertex", "surface", "volume"])
def test_texture_gradients_gradcheck(kind):
    faces = random_screen_faces(batch=1, num_faces=8, dtype=torch.float64, seed=37)
    textures = _textures(faces, kind).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: hard_rasterize(faces, t, 10, kind), (textures,))


@pytest.mark.parametrize("kind", ["vertex", "volume"])
def test_depth_gradient_gradcheck(kind):
    """z changes only the perspective correction here (no overlaps), which is differentiated exactly."""
    faces = torch.tensor(
        [
            [
                [[-0.9, -0.8, 2.0], [-0.1, 0.7, 3.5], [-0.05, -0.6, 1.5]],
                [[0.1, -0.9, 4.0], [0.8, 0.8, 2.5], [0.9, -0.5, 1.2]],
            ]
        ],
        dtype=torch.float64,
    )
    textures = _textures(faces, kind)
    xy, z = faces[..., :2], faces[..., 2:].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda zz: hard_rasterize(torch.cat((xy, zz), -1), textures, 12, kind), (z,))


def test_degenerate_and_off_screen_faces_have_finite_zero_gradients():
    faces = random_screen_faces(batch=2, num_faces=30, dtype=torch.float64, seed=41)
    faces[:, 5:8, :, :2] = faces[:, 5:8, :1, :2]  # more coincident corners
    textures = _textures(faces, "volume")
    upstream = torch.randn(2, 4, 24, 24, dtype=torch.float64)
    _, grad_faces, grad_textures = forward_backward(hard_rasterize, faces, textures, upstream, "volume")
    assert torch.isfinite(grad_faces).all() and torch.isfinite(grad_textures).all()
    for f in (1, 2, 3, 4, 5, 6, 7):  # collinear, coincident, off-screen, two coincident corners
        assert (grad_faces[:, f] == 0).all() and (grad_textures[:, f] == 0).all()
    for dtype in (torch.float32, torch.float64):
        _, grad_faces, _ = forward_backward(hard_rasterize, faces.to(dtype), None, upstream.to(dtype), None)
        assert torch.isfinite(grad_faces).all()
    # Screen-space faces with infinite or NaN coordinates (a vertex projected from z = 0) are not drawn.
    faces[:, 8, 0, 0] = float("inf")
    faces[:, 9, 1, 1] = float("nan")
    image, grad_faces, _ = forward_backward(hard_rasterize, faces, None, upstream, None)
    assert torch.isfinite(image).all() and torch.isfinite(grad_faces[:, 10:]).all()
    assert (grad_faces[:, 8:10] == 0).all()


@pytest.mark.parametrize("kind", [None, "volume"])
@pytest.mark.parametrize("batch", [3, 1])
def test_deterministic_across_runs_and_thread_counts(kind, batch):
    """Bit-identical across runs and thread counts (a batch of 1 with 2 threads takes the CPU's
    per-image path, the others its image-parallel path)."""
    faces = random_screen_faces(batch=batch, num_faces=200, seed=43, size=0.2)
    textures = _textures(faces, kind)
    upstream = torch.randn(batch, 4, 48, 48, generator=torch.Generator().manual_seed(7))
    assert_deterministic_across_threads(lambda: forward_backward(hard_rasterize, faces, textures, upstream, kind))
