"""The compiled SoftRas forward equals the dense PyTorch reference."""

from __future__ import annotations

import itertools

import pytest
import torch

from renderers.reference import soft_rasterize_reference
from renderers.softras import SoftRasOptions, soft_rasterize

from .conftest import random_screen_faces, random_textures, reference_kwargs

MODES = list(itertools.product(("euclidean", "barycentric"), ("prod", "sum", "hard"), ("softmax", "hard")))


@pytest.mark.parametrize(("dist_func", "aggr_alpha", "aggr_rgb"), MODES)
@pytest.mark.parametrize("kind", ["surface", "vertex"])
def test_forward_matches_reference(dist_func, aggr_alpha, aggr_rgb, kind):
    faces = random_screen_faces(batch=2, num_faces=40, seed=3)
    textures = random_textures(faces, kind, res=3)
    options = SoftRasOptions(
        image_size=32, sigma=2e-3, gamma=3e-2, dist_eps=1e-4, dist_func=dist_func, aggr_alpha=aggr_alpha,
        aggr_rgb=aggr_rgb, background=(0.2, 0.3, 0.4),
    )
    ours = soft_rasterize(faces, textures, options, kind)
    reference = soft_rasterize_reference(faces, textures, kind=kind, **reference_kwargs(options))
    assert ours.shape == (2, 4, 32, 32)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-5)


@pytest.mark.parametrize(("sigma", "gamma"), [(1e-5, 1e-4), (1e-4, 1e-3), (3e-3, 1e-1)])
@pytest.mark.parametrize("double_sided", [True, False])
def test_forward_sigma_gamma_and_sidedness(sigma, gamma, double_sided):
    faces = random_screen_faces(batch=2, num_faces=60, seed=5)
    textures = random_textures(faces, "surface", res=1)
    options = SoftRasOptions(image_size=40, sigma=sigma, gamma=gamma, double_sided=double_sided)
    ours = soft_rasterize(faces, textures, options, "surface")
    reference = soft_rasterize_reference(faces, textures, kind="surface", **reference_kwargs(options))
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-5)


def test_silhouette_only_skips_colour():
    faces = random_screen_faces(batch=3, num_faces=30, seed=7)
    options = SoftRasOptions(image_size=24, sigma=1e-4, dist_eps=1e-10)
    ours = soft_rasterize(faces, None, options)
    reference = soft_rasterize_reference(faces, None, **reference_kwargs(options))
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-5)
    assert torch.count_nonzero(ours[:, :3]) == 0
    assert ours[:, 3].max() > 0.99


def test_depth_range_and_background():
    faces = random_screen_faces(batch=1, num_faces=20, seed=9, special=False)
    faces[..., 2] = 50.0
    textures = random_textures(faces, "surface", res=1)
    options = SoftRasOptions(image_size=16, sigma=1e-3, near=1.0, far=10.0, background=(0.25, 0.5, 0.75))
    image = soft_rasterize(faces, textures, options, "surface")
    # Every face is beyond `far`: colour is pure background, the silhouette is unaffected.
    torch.testing.assert_close(image[0, :3], torch.tensor([0.25, 0.5, 0.75])[:, None, None].expand(3, 16, 16))
    assert image[0, 3].max() > 0.9


def test_float64_matches_reference_tightly():
    faces = random_screen_faces(batch=1, num_faces=30, dtype=torch.float64, seed=11)
    textures = random_textures(faces, "vertex")
    options = SoftRasOptions(image_size=20, sigma=1e-3, gamma=1e-2)
    ours = soft_rasterize(faces, textures, options, "vertex")
    reference = soft_rasterize_reference(faces, textures, kind="vertex", **reference_kwargs(options))
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-12)
