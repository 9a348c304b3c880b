"""Edge sampling, backward: parity with the plain-PyTorch estimator (same samples, float64), the
emulated CUDA launch, and unbiasedness against independent ground truth (exact box filtering by
polygon clipping, differentiated by autograd: renderers.fidelity.exact).

Statistical tolerances: seed-averaged gradients must lie within 1 % (relative L2) of the truth;
each test also checks that the standard error of its mean, measured from the per-seed spread,
is below 0.25 %, so that the 1 % bound sits four standard errors out: a test of bias, not of
noise.
"""

from __future__ import annotations

import math

import pytest
import torch
import trimesh

from renderers.edge import edge_rasterize
from renderers.fidelity.exact import convex_hull, convex_silhouette, layered_image, polygon_area, triangle_image
from renderers.reference.edge import edge_rasterize_reference
from renderers.topology import edge_table

from .conftest import random_screen_faces
from .edge_scenes import relative_error, screen, seed_mean_gradient, sphere_faces

TRIANGLE = torch.tensor([[-0.61, -0.43], [0.58, -0.17], [0.07, 0.66]], dtype=torch.float64)


def _standard_error(per_seed: torch.Tensor, truth: torch.Tensor) -> float:
    """Relative standard error of the seed mean, from the per-seed spread."""
    n = per_seed.shape[0]
    return float(per_seed.std(0).norm() / math.sqrt(n) / truth.norm())


def _grads(fn, faces, colors, kind, upstream, **options):
    x = faces.clone().requires_grad_(True)
    c = None if colors is None else colors.clone().requires_grad_(True)
    (fn(x, c, upstream.shape[-1], kind, **options) * upstream).sum().backward()
    return x.grad, None if c is None else c.grad


@pytest.mark.parametrize("kind", [None, "vertex", "surface"])
@pytest.mark.parametrize("scene", ["sphere", "soup"])
def test_backward_matches_reference_to_1e_10(kind, scene):
    if scene == "sphere":
        faces, edges, _ = sphere_faces(1, batch=2)
    else:
        faces, edges = random_screen_faces(batch=2, num_faces=24, dtype=torch.float64), None
    gen = torch.Generator().manual_seed(2)
    colors = None
    if kind is not None:
        colors = torch.rand(2, faces.shape[1], 3 if kind == "vertex" else 1, 3, generator=gen, dtype=torch.float64)
    upstream = torch.randn(2, 4, 16, 16, generator=gen, dtype=torch.float64)
    options = dict(edges=edges, samples_per_pixel=4, edge_samples=400, seed=21, background=(0.1, 0.2, 0.3))
    grad, grad_colors = _grads(edge_rasterize, faces, colors, kind or "surface", upstream, **options)
    ref, ref_colors = _grads(edge_rasterize_reference, faces, colors, kind or "surface", upstream, **options)
    assert grad.abs().max() > 1  # a real gradient, not two zeros
    torch.testing.assert_close(grad, ref, rtol=0, atol=1e-10)
    if colors is not None:
        torch.testing.assert_close(grad_colors, ref_colors, rtol=0, atol=1e-10)
    emulated, emulated_colors = _grads(edge_rasterize, faces, colors, kind or "surface", upstream, emulate_cuda=True,
                                       **options)
    assert torch.equal(grad, emulated)
    if colors is not None:
        assert torch.equal(grad_colors, emulated_colors)


def test_backward_matches_reference_single_sided_and_per_image_faces():
    faces, edges, face_list = sphere_faces(1, batch=2)
    per_image = torch.stack((edges, edges))  # (B, E, 6)
    upstream = torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    options = dict(edges=per_image, edge_samples=300, seed=5, double_sided=False)
    grad, _ = _grads(edge_rasterize, faces, None, "surface", upstream, **options)
    ref, _ = _grads(edge_rasterize_reference, faces, None, "surface", upstream, **options)
    torch.testing.assert_close(grad, ref, rtol=0, atol=1e-10)


def test_gradient_of_the_silhouette_area_has_the_right_sign_and_size():
    """d(sum alpha)/dv = d(area)/dv / A_pix for a fully visible triangle: pushing a vertex outwards
    grows the silhouette (the winding-free form needs no orientation)."""
    for tri in (TRIANGLE, TRIANGLE.flip(0)):  # both windings
        faces = screen(tri[None])
        upstream = torch.zeros(1, 4, 16, 16, dtype=torch.float64)
        upstream[:, 3] = 1.0
        mean, _ = seed_mean_gradient(faces, None, "surface", upstream, range(8))
        x = tri.clone().requires_grad_(True)
        (polygon_area(x).abs() / (2 / 16) ** 2).backward()
        assert relative_error(mean[0, 0], x.grad) < 0.01
        assert (mean[0, 0].sign() == x.grad.sign()).all()


def test_unbiased_for_a_fully_visible_triangle_with_a_linear_loss():
    colour = torch.tensor([0.9, 0.4, 0.1], dtype=torch.float64)
    weights = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = TRIANGLE.clone().requires_grad_(True)
    (triangle_image(x, colour, 16, background=(0.1, 0.2, 0.3)) * weights[0]).sum().backward()
    mean, per_seed = seed_mean_gradient(screen(TRIANGLE[None]), colour.view(1, 1, 1, 3), "surface", weights,
                                        range(64), background=(0.1, 0.2, 0.3))
    assert _standard_error(per_seed, x.grad) < 0.0025
    assert relative_error(mean[0, 0], x.grad) < 0.01


def test_unbiased_for_a_convex_closed_mesh_silhouette():
    """An icosphere's silhouette is the convex hull of its projected vertices."""
    mesh = trimesh.creation.icosphere(subdivisions=1, radius=0.5)
    import renderers

    vertices = torch.tensor(mesh.vertices)[None]
    faces = torch.tensor(mesh.faces)
    eye = renderers.points_from_angles(2.732, 20.0, 35.0)[None].double()
    weights = torch.randn(1, 4, 24, 24, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    points = renderers.project(vertices, eye, 15.0)[0, :, :2].detach().requires_grad_(True)
    (convex_silhouette(points[convex_hull(points.detach())], 24) * weights[0, 3]).sum().backward()
    truth = points.grad
    face_vertices = renderers.project_faces(vertices, eye, faces[None], 15.0).detach()
    edges = edge_table(faces)
    grads = []
    for seed in range(32):
        x = face_vertices.clone().requires_grad_(True)
        (edge_rasterize(x, None, 24, seed=seed, edges=edges) * weights).sum().backward()
        per_vertex = torch.zeros_like(truth).index_add_(0, faces.reshape(-1), x.grad[0, :, :, :2].reshape(-1, 2))
        grads.append(per_vertex)
    per_seed = torch.stack(grads)
    assert _standard_error(per_seed, truth) < 0.0025
    assert relative_error(per_seed.mean(0), truth) < 0.01


def _occlusion_scene():
    # (no vertex on a pixel line: the exact image is not differentiable there)
    quad = torch.tensor([[-0.71, -0.63], [0.52, -0.69], [0.61, 0.47], [-0.53, 0.58]], dtype=torch.float64)
    tri = torch.tensor([[-0.2, -0.9], [0.9, 0.1], [-0.3, 0.4]], dtype=torch.float64)
    colours = [torch.tensor([0.9, 0.2, 0.1], dtype=torch.float64), torch.tensor([0.1, 0.3, 0.8], dtype=torch.float64)]
    faces = torch.cat((screen(tri[None], 2.0), screen(torch.stack((quad[[0, 1, 2]], quad[[0, 2, 3]])), 3.0)), 1)
    face_colors = torch.stack((colours[0], colours[1], colours[1])).view(1, 3, 1, 3)
    edges = edge_table(torch.tensor([[0, 1, 2], [3, 4, 5], [3, 5, 6]]))
    return tri, quad, colours, faces, face_colors, edges


def _per_polygon_vertex(grad: torch.Tensor) -> torch.Tensor:
    """``(n, 1, 3, 3, 2)`` face-corner gradients of the occlusion scene -> ``(n, 7, 2)``: the
    triangle's 3 vertices, then the quad's 4 (its diagonal's two copies summed)."""
    flat = grad[:, 0]
    return torch.stack((flat[:, 0, 0], flat[:, 0, 1], flat[:, 0, 2], flat[:, 1, 0] + flat[:, 2, 0],
                        flat[:, 1, 1], flat[:, 1, 2] + flat[:, 2, 1], flat[:, 2, 2]), 1)


def test_unbiased_for_a_triangle_in_front_of_a_quad_with_flat_colours():
    """Occlusion: the quad's edges behind the triangle contribute nothing; exact image from the
    intersection polygon."""
    tri, quad, colours, faces, face_colors, edges = _occlusion_scene()
    weights = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    t, q = tri.clone().requires_grad_(True), quad.clone().requires_grad_(True)
    (layered_image([t, q], colours, 16) * weights[0]).sum().backward()
    truth = torch.cat((t.grad, q.grad))
    _, per_seed = seed_mean_gradient(faces, face_colors, "surface", weights, range(256), edges=edges)
    estimate = _per_polygon_vertex(per_seed)
    assert _standard_error(estimate, truth) < 0.0025
    assert relative_error(estimate.mean(0), truth) < 0.01


def test_error_falls_at_least_like_one_over_sqrt_samples():
    """Single-call error against the exact gradient of the occlusion scene at budgets 256 .. 16384:
    the fitted log-log slope must be at most -1/2. (A lone triangle is no test: its unoccluded
    edges are integrated exactly by the pixel-aligned antithetic pairs; here occlusion boundaries
    fall inside strata, whose share of the error shrinks with the strata.)"""
    tri, quad, colours, faces, face_colors, edges = _occlusion_scene()
    weights = torch.randn(1, 4, 32, 32, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    t, q = tri.clone().requires_grad_(True), quad.clone().requires_grad_(True)
    (layered_image([t, q], colours, 32) * weights[0]).sum().backward()
    truth = torch.cat((t.grad, q.grad))
    budgets = [256, 1024, 4096, 16384]
    errors = []
    for n in budgets:
        _, per_seed = seed_mean_gradient(faces, face_colors, "surface", weights, range(16), edges=edges,
                                         edge_samples=n, samples_per_pixel=16)
        errors.append(sum(relative_error(g, truth) for g in _per_polygon_vertex(per_seed)) / len(per_seed))
    logs = torch.tensor([[math.log(n), 1.0] for n in budgets], dtype=torch.float64)
    slope = torch.linalg.lstsq(logs, torch.tensor(errors, dtype=torch.float64).log()[:, None]).solution[0, 0]
    assert slope <= -0.5, (errors, float(slope))


def test_interior_term_is_the_exact_derivative_of_the_fixed_sample_image():
    """A smooth-shaded quad covering the image (no silhouette on screen, continuous colours across
    its inner edges): only the interior term acts, and with the samples fixed it is the ordinary
    derivative of the estimate, checked by central finite differences."""
    xy = torch.tensor([[-1.5, -1.4], [1.6, -1.5], [1.5, 1.4], [-1.4, 1.6], [0.1, -0.05]], dtype=torch.float64)
    depth = torch.tensor([2.0, 2.5, 3.0, 2.2, 2.4], dtype=torch.float64)
    tris = torch.tensor([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    colours = torch.rand(5, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    weights = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    edges = edge_table(tris)

    def loss(points: torch.Tensor) -> torch.Tensor:
        faces = torch.cat((points[tris], depth[tris][..., None]), -1)[None]
        image = edge_rasterize(faces, colours[tris][None], 16, "vertex", edges=edges, seed=3, samples_per_pixel=16)
        return (image * weights).sum()

    points = xy.clone().requires_grad_(True)
    loss(points).backward()
    analytic = points.grad[4]
    step = 1e-7
    numeric = torch.zeros(2, dtype=torch.float64)
    for k in range(2):
        shift = torch.zeros_like(xy)
        shift[4, k] = step
        numeric[k] = (loss(xy + shift) - loss(xy - shift)) / (2 * step)
    assert analytic.abs().max() > 0.1
    torch.testing.assert_close(analytic, numeric, rtol=1e-4, atol=1e-6)
