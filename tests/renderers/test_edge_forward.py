"""Edge sampling, forward: the box-filtered image estimated by stratified area samples, against the
plain-PyTorch reference (same samples), closed-form areas and exact box filtering; seeds and
the counter-based generator."""

from __future__ import annotations

import math

import pytest
import torch

import renderers
from renderers._ext import extension
from renderers.edge import edge_rasterize
from renderers.fidelity.exact import polygon_area, triangle_image
from renderers.random import random_uniform
from renderers.reference.edge import edge_rasterize_reference

from .conftest import assert_deterministic_across_threads, random_screen_faces
from .edge_scenes import screen, sphere_faces


def test_random_numbers_match_the_compiled_generator_bit_for_bit():
    counters = torch.cat((torch.arange(5000), torch.tensor([2**32 - 1, 2**32, 2**40 + 17, 2**62])))
    for seed, stream in ((0, 0), (12345, 2), (2**62 + 3, 1)):
        compiled = extension().edge_random_uniform(seed, stream, counters)
        assert torch.equal(compiled, random_uniform(seed, stream, counters))


def test_random_numbers_are_uniform_and_streams_independent():
    u = random_uniform(7, 0, torch.arange(200_000))
    v = random_uniform(7, 1, torch.arange(200_000))
    # mean and variance of U(0, 1): 1/2, 1/12; standard errors at n = 2e5 are ~6.5e-4 and ~2e-4
    assert abs(float(u.mean()) - 0.5) < 4 * 6.5e-4
    assert abs(float(u.var()) - 1 / 12) < 4 * 2e-4
    # decile counts: chi-square with 9 degrees of freedom, 99.9 % quantile 27.9
    counts = torch.histc(u, bins=10, min=0, max=1)
    assert float(((counts - 2e4) ** 2 / 2e4).sum()) < 27.9
    assert abs(float(torch.corrcoef(torch.stack((u, v)))[0, 1])) < 4 / math.sqrt(2e5)
    assert abs(float(torch.corrcoef(torch.stack((u[:-1], u[1:])))[0, 1])) < 4 / math.sqrt(2e5)


@pytest.mark.parametrize("kind", [None, "vertex", "surface"])
@pytest.mark.parametrize("double_sided", [True, False])
def test_forward_matches_reference_on_the_same_samples(kind, double_sided):
    faces = random_screen_faces(batch=2, num_faces=30, dtype=torch.float64)
    gen = torch.Generator().manual_seed(3)
    colors = None if kind is None else torch.rand(2, 30, 3 if kind == "vertex" else 1, 3, generator=gen, dtype=torch.float64)
    options = dict(samples_per_pixel=9, seed=11, double_sided=double_sided, background=(0.2, 0.3, 0.4))
    compiled = edge_rasterize(faces, colors, 16, kind or "surface", **options)
    reference = edge_rasterize_reference(faces, colors, 16, kind or "surface", **options)
    assert torch.equal(compiled[:, 3], reference[:, 3])  # the same samples find the same faces
    torch.testing.assert_close(compiled, reference, rtol=0, atol=1e-12)  # colours: rounding of the sums
    emulated = edge_rasterize(faces, colors, 16, kind or "surface", emulate_cuda=True, **options)
    assert torch.equal(compiled, emulated)


def test_forward_float32_matches_float64():
    faces, _, _ = sphere_faces(2)
    image64 = edge_rasterize(faces, None, 32, seed=5)
    image32 = edge_rasterize(faces.float(), None, 32, seed=5)
    assert image32.dtype == torch.float32
    # samples landing within float32 rounding of an edge may flip: a few 1/spp steps at most
    assert (image32.double() - image64).abs().sum() <= 4 * 0.25


def test_silhouette_is_an_unbiased_estimate_of_the_projected_area():
    """Mean alpha of a fully visible triangle = its area / image area (REFERENCE section 8)."""
    tri = torch.tensor([[-0.61, -0.43], [0.58, -0.17], [0.07, 0.66]], dtype=torch.float64)
    exact = float(polygon_area(tri).abs()) / 4.0
    means = torch.tensor([float(edge_rasterize(screen(tri[None]), None, 16, seed=s)[0, 3].mean()) for s in range(40)])
    stderr = float(means.std()) / math.sqrt(len(means))
    assert abs(float(means.mean()) - exact) < 4 * stderr + 1e-12
    # stratified (2 x 2 jittered per pixel) beats independent samples: sqrt(p (1 - p) / n), n = 1024
    assert float(means.std()) < 0.5 * math.sqrt(exact * (1 - exact) / 1024)


def test_image_converges_to_the_exact_box_filtered_image():
    tri = torch.tensor([[-0.61, -0.43], [0.58, -0.17], [0.07, 0.66]], dtype=torch.float64)
    colour = torch.tensor([0.9, 0.4, 0.1], dtype=torch.float64)
    exact = triangle_image(tri, colour, 16, background=(0.1, 0.2, 0.3))
    errors = []
    for spp in (4, 16, 64):
        image = edge_rasterize(screen(tri[None]), colour.view(1, 1, 1, 3), 16, "surface", samples_per_pixel=spp,
                               seed=1, background=(0.1, 0.2, 0.3))[0]
        errors.append(float((image - exact).abs().mean()))
    # n x n jittered strata on pixels cut by one straight edge: error ~ n^-1.5 per pixel, so
    # quadrupling the samples divides it by more than 2 (1/sqrt would be exactly 2)
    assert errors[1] < errors[0] / 2 and errors[2] < errors[1] / 2
    assert errors[2] < 3e-3


def test_seed_reproduces_and_fresh_samples_follow_torch_generator():
    faces, edges, _ = sphere_faces(1)
    first = edge_rasterize(faces, None, 16, seed=3)
    assert torch.equal(first, edge_rasterize(faces, None, 16, seed=3))
    torch.manual_seed(0)
    a = edge_rasterize(faces, None, 16)
    b = edge_rasterize(faces, None, 16)
    torch.manual_seed(0)
    assert torch.equal(a, edge_rasterize(faces, None, 16))
    assert not torch.equal(a, b)


def test_bit_identical_across_runs_and_thread_counts():
    faces = random_screen_faces(batch=3, num_faces=60)
    colors = torch.rand(3, 60, 3, 3)
    upstream = torch.randn(3, 4, 24, 24)

    def run():
        x = faces.clone().requires_grad_(True)
        c = colors.clone().requires_grad_(True)
        image = edge_rasterize(x, c, 24, "vertex", seed=9, edge_samples=700)
        (image * upstream).sum().backward()
        return image.detach(), x.grad, c.grad

    assert_deterministic_across_threads(run)


def test_renderer_seed_option_and_per_call_seed():
    vertices, faces = torch.tensor([[[-0.3, -0.2, 0.0], [0.3, -0.25, 0.0], [0.0, 0.35, 0.1]]]), torch.tensor([[0, 1, 2]])
    eye = renderers.points_from_angles(2.732, 0.0, 0.0)[None]
    fixed = renderers.create("edge", image_size=16, seed=4)
    assert torch.equal(fixed(vertices, faces, eye), fixed(vertices, faces, eye))
    fresh = renderers.create("edge", image_size=16)
    assert torch.equal(fresh(vertices, faces, eye, seed=8), fixed(vertices, faces, eye, seed=8))
    assert not torch.equal(fresh(vertices, faces, eye), fresh(vertices, faces, eye))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(samples_per_pixel=3), "square number"),
        (dict(samples_per_pixel=81), "square number"),
        (dict(edge_samples=-1), "edge_samples"),
        (dict(offset=0.0), "offset"),
        (dict(offset=0.7), "offset"),
    ],
)
def test_invalid_options(options, message):
    with pytest.raises(ValueError, match=message):
        renderers.create("edge", **options)


def test_textures_with_discontinuities_inside_faces_are_refused():
    vertices = torch.tensor([[[-0.3, -0.2, 0.0], [0.3, -0.25, 0.0], [0.0, 0.35, 0.1]]])
    faces = torch.tensor([[0, 1, 2]])
    eye = renderers.points_from_angles(2.732, 0.0, 0.0)[None]
    renderer = renderers.create("edge", image_size=16)
    with pytest.raises(RuntimeError, match="R = 1.*texel borders"):
        renderer(vertices, faces, eye, torch.rand(1, 1, 4, 3))
    with pytest.raises(ValueError, match="does not accept volume textures"):
        renderer(vertices, faces, eye, torch.rand(1, 1, 2, 2, 2, 3))


def test_kernel_rejects_bad_backward_inputs():
    faces = random_screen_faces(batch=1, num_faces=8)
    params = renderers.edge.kernel_params(16, None, seed=1)
    image, sample_face = extension().edge_forward(faces, faces.new_empty(0), params)
    edges = renderers.soup_edge_table(8)
    grad = torch.ones_like(image)
    with pytest.raises(RuntimeError, match="sample_face must be int32"):
        extension().edge_backward(faces, faces.new_empty(0), edges, sample_face[..., :1].contiguous(), grad, params)
    with pytest.raises(RuntimeError, match="grad_image must have shape"):
        extension().edge_backward(faces, faces.new_empty(0), edges, sample_face, grad[:, :3], params)
    bad = edges.clone()
    bad[0, 0] = 8
    with pytest.raises(RuntimeError, match="edges contain invalid rows"):
        extension().edge_backward(faces, faces.new_empty(0), bad, sample_face, grad, params)
    params.samples_per_side = 9
    with pytest.raises(RuntimeError, match="samples_per_side must be in"):
        extension().edge_forward(faces, faces.new_empty(0), params)
