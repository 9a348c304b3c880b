"""Exact box-filtered ground truth (renderers.fidelity.exact): closed forms, brute-force
supersampling, and gradients (finite differences and the analytic derivative of the area)."""

from __future__ import annotations

import math

import pytest
import torch

from renderers.fidelity.exact import (
    clip_convex,
    convex_hull,
    convex_silhouette,
    layered_image,
    pixel_area,
    polygon_area,
    polygon_pixel_coverage,
    triangle_image,
)

DTYPE = torch.float64
SUBSAMPLES = 64  # point samples per pixel side in the brute-force references
# Counting a regular n x n grid of points in a convex region errs by < 1 point per sample
# column, so a pixel's sampled coverage is within about 1/n of the exact one.
SAMPLING_TOLERANCE = 1.5 / SUBSAMPLES


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=DTYPE)


def shoelace(polygon: torch.Tensor) -> float:
    """Unsigned area of a polygon ``(P, 2)``, written out independently of the module."""
    pts = polygon.tolist()
    total = 0.0
    for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]):
        total += x0 * y1 - x1 * y0
    return abs(total) / 2


def random_hull(seed: int, count: int = 30, scale: float = 0.6, centre=(0.0, 0.0)) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    points = (torch.rand(count, 2, generator=gen, dtype=DTYPE) * 2 - 1) * scale + t(centre)
    return points[convex_hull(points)]


def sample_points(image_size: int, n: int = SUBSAMPLES) -> torch.Tensor:
    """Sample positions ``(S*n, S*n, 2)``: an ``n x n`` grid of cell centres in every pixel,
    rows top to bottom as in the image."""
    k = (torch.arange(image_size * n, dtype=DTYPE) + 0.5) * (2.0 / (image_size * n))
    ys, xs = 1.0 - k, -1.0 + k
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)


def inside(polygon: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Boolean mask ``points.shape[:-1]``: points inside the convex ``polygon`` (either winding)."""
    a, b = polygon, polygon.roll(-1, dims=0)
    px, py = points[..., None, 0], points[..., None, 1]
    cross = (b[:, 0] - a[:, 0]) * (py - a[:, 1]) - (b[:, 1] - a[:, 1]) * (px - a[:, 0])
    return (cross >= 0).all(-1) | (cross <= 0).all(-1)


def block_mean(samples: torch.Tensor, image_size: int, n: int = SUBSAMPLES) -> torch.Tensor:
    """Mean over each pixel's ``n x n`` samples: ``(..., S*n, S*n) -> (..., S, S)``."""
    shape = samples.shape[:-2] + (image_size, n, image_size, n)
    return samples.reshape(shape).mean(dim=(-3, -1))


def supersampled_coverage(polygon: torch.Tensor, image_size: int) -> torch.Tensor:
    return block_mean(inside(polygon, sample_points(image_size)).to(DTYPE), image_size)


def supersampled_painter(polygons, colors, image_size: int, background) -> torch.Tensor:
    """Brute-force RGBA ``(4, S, S)``: each sample takes the colour of the front-most polygon
    containing it (polygons listed front to back), or the background."""
    points = sample_points(image_size)
    rgb = t(background)[:, None, None].expand(3, *points.shape[:2]).clone()
    covered = torch.zeros(points.shape[:2], dtype=torch.bool)
    for polygon, color in reversed(list(zip(polygons, colors))):  # paint back to front
        mask = inside(polygon, points)
        rgb[:, mask] = color[:, None]
        covered |= mask
    return block_mean(torch.cat((rgb, covered[None].to(DTYPE))), image_size)


# ---------------------------------------------------------------------------------------------
# Coverage: closed forms
# ---------------------------------------------------------------------------------------------


def test_coverage_of_polygon_inside_image_sums_to_its_area():
    polygon = random_hull(seed=3)
    assert polygon.shape[0] >= 5
    for size in (7, 16, 33):
        coverage = polygon_pixel_coverage(polygon, size)
        assert coverage.shape == (size, size)
        assert coverage.min() >= -1e-12 and coverage.max() <= 1 + 1e-12
        assert coverage.sum().item() == pytest.approx(shoelace(polygon) / pixel_area(size), rel=1e-12)


def test_coverage_of_axis_aligned_rectangle_matches_interval_overlaps():
    x0, x1, y0, y1, size = 0.1, 0.37, -0.2, 0.43, 16
    rectangle = t([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    side = 2.0 / size

    def overlap(lo, hi, a, b):
        return max(0.0, min(hi, b) - max(lo, a))

    expected = torch.zeros(size, size, dtype=DTYPE)
    for r in range(size):
        for c in range(size):
            ox = overlap(-1 + c * side, -1 + (c + 1) * side, x0, x1)
            oy = overlap(1 - (r + 1) * side, 1 - r * side, y0, y1)
            expected[r, c] = ox * oy / side**2
    coverage = polygon_pixel_coverage(rectangle, size)
    torch.testing.assert_close(coverage, expected, rtol=0, atol=1e-12)
    # A few pixels by hand: column 8 is x in [0, 0.125] (overlap 0.025, i.e. 0.2), column 10
    # is [0.25, 0.375] (0.96); row 4 is y in [0.375, 0.5] (0.44), row 9 is [-0.25, -0.125] (0.6).
    assert coverage[4, 8].item() == pytest.approx(0.2 * 0.44, abs=1e-12)
    assert coverage[9, 10].item() == pytest.approx(0.96 * 0.6, abs=1e-12)
    assert coverage[6, 9].item() == pytest.approx(1.0, abs=1e-12)
    assert coverage[3, 9].item() == 0 and coverage[6, 7].item() == 0
    # Winding does not matter.
    torch.testing.assert_close(polygon_pixel_coverage(rectangle.flip(0), size), coverage, rtol=0, atol=1e-12)


def test_coverage_of_polygon_covering_the_whole_image_is_one():
    big = t([[-5.0, -4.0], [6.0, -3.0], [2.0, 7.0]])
    coverage = polygon_pixel_coverage(big, 9)
    torch.testing.assert_close(coverage, torch.ones(9, 9, dtype=DTYPE), rtol=0, atol=1e-12)


def test_coverage_of_off_screen_polygon_is_zero_and_attached():
    polygon = t([[1.5, 0.0], [2.5, 0.0], [2.0, 0.5]]).requires_grad_(True)
    coverage = polygon_pixel_coverage(polygon, 8)
    assert torch.equal(coverage, torch.zeros(8, 8, dtype=DTYPE))
    coverage.sum().backward()
    assert torch.equal(polygon.grad, torch.zeros_like(polygon))


# ---------------------------------------------------------------------------------------------
# Coverage: brute-force supersampling
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "polygon",
    [
        pytest.param(t([[-0.71, -0.42], [0.63, -0.81], [0.12, 0.77]]), id="triangle"),
        pytest.param(random_hull(seed=5), id="hull-of-random-points"),
        pytest.param(random_hull(seed=7, scale=0.8, centre=(0.6, -0.5)), id="partly-outside"),
        pytest.param(t([[-0.3, 0.1], [-1.4, 0.9], [-1.2, -0.6]]), id="vertex-outside"),
    ],
)
def test_coverage_matches_supersampling(polygon):
    size = 8
    exact = polygon_pixel_coverage(polygon, size)
    sampled = supersampled_coverage(polygon, size)
    error = (exact - sampled).abs()
    assert error.max() < SAMPLING_TOLERANCE
    assert (sampled > 0).any() and (sampled < 1).any()  # partial pixels are exercised


@pytest.mark.parametrize("seed, centre", [(19, (0.0, 0.0)), (37, (0.7, -0.6)), (41, (-0.8, 0.9))])
def test_coverage_matches_per_pixel_clipping(seed, centre):
    """Exact to rounding: the area of Sutherland-Hodgman ``polygon ∩ pixel`` (a different
    algorithm) in every pixel."""
    size = 8
    polygon = random_hull(seed=seed, count=25, scale=0.7, centre=centre)
    side = 2.0 / size
    expected = torch.zeros(size, size, dtype=DTYPE)
    for r in range(size):
        for c in range(size):
            x0, y1 = -1 + c * side, 1 - r * side
            pixel = t([[x0, y1 - side], [x0 + side, y1 - side], [x0 + side, y1], [x0, y1]])
            piece = clip_convex(polygon, pixel)
            expected[r, c] = shoelace(piece) / side**2 if piece.shape[0] else 0.0
    torch.testing.assert_close(polygon_pixel_coverage(polygon, size), expected, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Coverage: gradients
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "polygon",
    [
        pytest.param(random_hull(seed=11, count=12, scale=0.7), id="inside"),
        pytest.param(random_hull(seed=13, count=12, scale=0.9, centre=(0.5, 0.4)), id="partly-outside"),
        # Horizontal and vertical edges (the flat-edge branch).
        pytest.param(t([[0.1, -0.2], [0.37, -0.2], [0.37, 0.43], [0.1, 0.43]]), id="rectangle"),
        # An edge through the pixel corner (0, 0) of an 8 x 8 image; coverage is C^1 there.
        pytest.param(t([[-0.31, -0.42], [0.4, 0.4 * 0.42 / 0.31], [-0.6, 0.37]]), id="edge-through-corner"),
    ],
)
def test_coverage_gradcheck(polygon):
    size = 8
    weights = torch.rand(size, size, generator=torch.Generator().manual_seed(2), dtype=DTYPE)
    vertices = polygon.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda v: polygon_pixel_coverage(v, size).mul(weights).sum(), (vertices,), eps=1e-6, atol=1e-6
    )


def test_coverage_gradient_of_total_area_matches_shoelace_derivative():
    polygon = random_hull(seed=17, count=20, scale=0.7)
    size = 12
    for vertices in (polygon, polygon.flip(0)):
        vertices = vertices.clone().requires_grad_(True)
        (polygon_pixel_coverage(vertices, size).sum() * pixel_area(size)).backward()
        # d|A|/dv_i for the shoelace area A = 1/2 sum (x_i y_{i+1} - x_{i+1} y_i).
        v = vertices.detach()
        nxt, prv = v.roll(-1, dims=0), v.roll(1, dims=0)
        signed = polygon_area(v).sign()
        analytic = 0.5 * signed * torch.stack((nxt[:, 1] - prv[:, 1], prv[:, 0] - nxt[:, 0]), dim=1)
        torch.testing.assert_close(vertices.grad, analytic, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Convex hull and clipping
# ---------------------------------------------------------------------------------------------


def test_convex_hull_is_counter_clockwise_and_contains_all_points():
    gen = torch.Generator().manual_seed(23)
    points = torch.randn(60, 2, generator=gen, dtype=DTYPE)
    points = torch.cat((points, t([[-3.0, 0.0], [3.0, 0.0], [0.0, 0.0]])))  # collinear triple
    hull = convex_hull(points)
    assert hull.dtype == torch.long and len(set(hull.tolist())) == hull.numel()
    polygon = points[hull]
    a, b = polygon, polygon.roll(-1, dims=0)
    turns = (b - a)[:, 0] * (b.roll(-1, dims=0) - b)[:, 1] - (b - a)[:, 1] * (b.roll(-1, dims=0) - b)[:, 0]
    assert (turns > 0).all()  # strictly convex, counter-clockwise
    cross = (b[:, 0] - a[:, 0]) * (points[:, None, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (points[:, None, 0] - a[:, 0])
    assert (cross >= -1e-12).all()
    assert {60, 61} <= set(hull.tolist())


def test_clip_convex_of_overlapping_squares():
    square = t([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]])
    shifted = square + t([1.0, 1.5])
    overlap = clip_convex(square, shifted.flip(0))  # either winding
    assert shoelace(overlap) == pytest.approx(1.0 * 0.5, abs=1e-12)
    rotated = t([[1.0, -0.5], [2.5, 1.0], [1.0, 2.5], [-0.5, 1.0]])  # the square's corners cut
    assert shoelace(clip_convex(square, rotated)) == pytest.approx(4.0 - 4 * 0.125, abs=1e-12)
    inner = t([[0.5, 0.5], [1.5, 0.5], [1.0, 1.5]])
    assert torch.equal(clip_convex(inner, square), inner)  # subject inside: unchanged


def test_clip_convex_is_differentiable():
    square = t([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]])
    other = t([[1.1, 0.7], [3.0, 1.2], [1.4, 2.6]]).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: polygon_area(clip_convex(v, square)), (other,))


def test_clip_convex_of_disjoint_polygons_is_empty():
    square = t([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    far = t([[2.0, 2.0], [3.0, 2.0], [2.5, 3.0]])
    assert clip_convex(square, far).shape == (0, 2)
    assert clip_convex(far, square).shape == (0, 2)
    touching = clip_convex(square, square + t([1.0, 0.0]))  # sharing an edge: no area
    assert touching.shape[0] == 0 or shoelace(touching) < 1e-12


# ---------------------------------------------------------------------------------------------
# Scenes
# ---------------------------------------------------------------------------------------------


def test_alpha_of_disjoint_triangles_is_sum_of_coverages():
    left = t([[-0.9, -0.5], [-0.1, -0.3], [-0.5, 0.6]])
    right = t([[0.1, -0.7], [0.8, 0.2], [0.2, 0.5]])
    colors = [t([1.0, 0.0, 0.0]), t([0.0, 1.0, 0.0])]
    image = layered_image([left, right], colors, 16)
    cov_left, cov_right = polygon_pixel_coverage(left, 16), polygon_pixel_coverage(right, 16)
    torch.testing.assert_close(image[3], cov_left + cov_right, rtol=0, atol=1e-12)
    torch.testing.assert_close(image[0], cov_left, rtol=0, atol=1e-12)
    torch.testing.assert_close(image[1], cov_right, rtol=0, atol=1e-12)


def test_triangle_hidden_behind_front_square_is_invisible():
    square = t([[-0.6, -0.6], [0.6, -0.6], [0.6, 0.6], [-0.6, 0.6]])
    triangle = t([[-0.3, -0.2], [0.4, -0.1], [0.05, 0.45]]).requires_grad_(True)
    front, back = t([0.2, 0.3, 0.9]).requires_grad_(True), t([0.9, 0.5, 0.1]).requires_grad_(True)
    image = layered_image([square, triangle], [front, back], 16, background=(0.1, 0.1, 0.1))
    upstream = torch.rand(4, 16, 16, generator=torch.Generator().manual_seed(4), dtype=DTYPE)
    (image * upstream).sum().backward()
    assert back.grad.abs().max() < 1e-12
    assert triangle.grad.abs().max() < 1e-12
    assert front.grad.abs().min() > 0
    square_only = layered_image([square], [front.detach()], 16, background=(0.1, 0.1, 0.1))
    torch.testing.assert_close(image.detach(), square_only, rtol=0, atol=1e-12)


def test_two_layers_match_supersampled_painter():
    size = 8
    triangle = t([[-0.7, -0.3], [0.55, -0.62], [0.2, 0.81]])
    quad = t([[-0.25, -0.9], [0.95, -0.45], [0.8, 0.6], [-0.45, 0.35]])
    colors = [t([0.9, 0.2, 0.1]), t([0.1, 0.4, 0.8])]
    background = (0.3, 0.3, 0.0)
    exact = layered_image([triangle, quad], colors, size, background)
    sampled = supersampled_painter([triangle, quad], colors, size, background)
    assert (exact - sampled).abs().max() < 2 * SAMPLING_TOLERANCE
    # Explicitly the two-layer formula of the docstring.
    cov0, cov1 = polygon_pixel_coverage(triangle, size), polygon_pixel_coverage(quad, size)
    cov01 = polygon_pixel_coverage(clip_convex(triangle, quad), size)
    torch.testing.assert_close(exact[3], cov0 + cov1 - cov01, rtol=0, atol=1e-12)


def test_three_layers_match_supersampled_painter():
    size = 8
    polygons = [
        t([[-0.7, -0.3], [0.4, -0.6], [0.1, 0.5]]),
        t([[-0.2, -0.8], [0.9, -0.2], [0.3, 0.7]]),
        random_hull(seed=29, count=15, scale=0.8, centre=(-0.1, 0.1)),
    ]
    colors = [t([0.9, 0.2, 0.1]), t([0.1, 0.8, 0.3]), t([0.2, 0.3, 0.9])]
    exact = layered_image(polygons, colors, size, (0.5, 0.5, 0.5))
    sampled = supersampled_painter(polygons, colors, size, (0.5, 0.5, 0.5))
    assert (exact - sampled).abs().max() < 3 * SAMPLING_TOLERANCE


def test_layered_image_gradcheck():
    size = 6
    front = t([[-0.61, -0.33], [0.47, -0.52], [0.13, 0.58]]).requires_grad_(True)
    back = t([[-0.21, -0.83], [0.86, -0.27], [0.74, 0.62], [-0.38, 0.31]]).requires_grad_(True)
    c0, c1 = t([0.9, 0.2, 0.1]).requires_grad_(True), t([0.1, 0.4, 0.8]).requires_grad_(True)
    weights = torch.rand(4, size, size, generator=torch.Generator().manual_seed(6), dtype=DTYPE)

    def loss(p0, p1, a, b):
        return (layered_image([p0, p1], [a, b], size, (0.2, 0.3, 0.4)) * weights).sum()

    assert torch.autograd.gradcheck(loss, (front, back, c0, c1), eps=1e-6, atol=1e-6)


def test_triangle_image_and_convex_silhouette_wrappers():
    triangle = t([[-0.5, -0.4], [0.6, -0.2], [0.0, 0.7]])
    color = t([0.25, 0.5, 0.75])
    image = triangle_image(triangle, color, 10, background=(1.0, 1.0, 1.0))
    coverage = polygon_pixel_coverage(triangle, 10)
    assert image.shape == (4, 10, 10)
    torch.testing.assert_close(image[3], coverage, rtol=0, atol=1e-12)
    torch.testing.assert_close(image[1], 0.5 * coverage + (1 - coverage), rtol=0, atol=1e-12)
    # Silhouette of a convex mesh's projected vertices = coverage of their hull.
    gen = torch.Generator().manual_seed(31)
    directions = torch.randn(40, 3, generator=gen, dtype=DTYPE)
    vertices = 0.6 * directions / directions.norm(dim=1, keepdim=True)  # on a sphere: convex
    projected = vertices[:, :2].clone().requires_grad_(True)
    silhouette = convex_silhouette(projected, 16)
    hull = convex_hull(projected)
    torch.testing.assert_close(silhouette, polygon_pixel_coverage(projected[hull], 16), rtol=0, atol=0)
    silhouette.sum().backward()
    interior = torch.ones(40, dtype=torch.bool)
    interior[hull] = False
    assert projected.grad[interior].abs().max() == 0 and projected.grad[hull].abs().max() > 0
    assert silhouette.sum().item() * pixel_area(16) < math.pi * 0.36


def test_layered_image_rejects_mismatched_inputs():
    triangle = t([[-0.5, -0.4], [0.6, -0.2], [0.0, 0.7]])
    with pytest.raises(ValueError):
        layered_image([triangle], [], 8)
    with pytest.raises(ValueError):
        polygon_pixel_coverage(triangle[:2], 8)
