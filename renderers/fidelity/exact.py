"""Exact box-filtered images of convex polygons in screen space: the gradients' ground truth.

Every function here is pure torch geometry (no renderer code), exact up to float rounding and
differentiable by autograd with respect to the polygon vertices and the colours, so that a
renderer's image and gradients can be checked against the perfectly antialiased image: each
pixel holds the *area average* of the scene over its square (a box filter).

Screen conventions (normalised device coordinates):

* x points to the right, y up, and the image covers ``[-1, 1]^2``.
* For an ``S x S`` image, pixel ``(row r, column c)`` is the square
  ``x in [-1 + 2c/S, -1 + 2(c+1)/S]``, ``y in [1 - 2(r+1)/S, 1 - 2r/S]`` (row 0 is the top);
  its area is ``(2/S)^2``.
* Polygons are ``(P, 2)`` tensors of ``(x, y)`` vertices in order, convex, of either winding
  unless stated otherwise; vertices may lie outside the image.
* Coverage images are ``(S, S)`` (fraction of each pixel's area inside the polygon); scene
  images are ``(4, S, S)`` RGBA, the alpha (silhouette) in channel 3.

Coverage method (:func:`polygon_pixel_coverage`): Green's theorem on the boundary *clamped* to
each pixel. The map ``clamp(., pixel)`` sends a closed curve to one whose winding number is the
original one inside the pixel and zero outside, so ``area(polygon ∩ pixel) = ∮ X dY`` along the
clamped boundary ``(X, Y)``. Along one edge, ``dY`` is nonzero only on the part of the edge inside
the pixel's row, and there ``X = x0 + relu(x - x0) - relu(x - x1)`` for the column
``[x0, x1]``; the ``x0`` terms cancel around the closed boundary, and the mean of ``relu`` of a
linear function over a segment has a closed form. Hence, per edge, row and vertical pixel line,
one closed-form term: ``O(P * rows * columns)`` work, restricted to the polygon's bounding box.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "clip_convex",
    "convex_hull",
    "convex_silhouette",
    "layered_image",
    "pixel_area",
    "polygon_area",
    "polygon_pixel_coverage",
    "triangle_image",
]


# --------------------------------------------------------------------------------------------
# Small geometric helpers
# --------------------------------------------------------------------------------------------


def pixel_area(image_size: int) -> float:
    """Area ``(2/S)^2`` of one pixel of an ``S x S`` image in NDC."""
    return (2.0 / image_size) ** 2


def polygon_area(polygon: torch.Tensor) -> torch.Tensor:
    """Signed shoelace area of a polygon ``(P, 2)``: positive when counter-clockwise. Scalar."""
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * (x * y.roll(-1) - x.roll(-1) * y).sum()


def _cross(o: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """z component of ``(a - o) x (b - o)`` over the last axis (broadcasting); positive when
    ``o, a, b`` turn counter-clockwise."""
    return (a[..., 0] - o[..., 0]) * (b[..., 1] - o[..., 1]) - (a[..., 1] - o[..., 1]) * (
        b[..., 0] - o[..., 0]
    )


def _counter_clockwise(polygon: torch.Tensor) -> torch.Tensor:
    """The polygon ``(P, 2)`` with its vertex order reversed if it is clockwise."""
    return polygon.flip(0) if float(polygon_area(polygon.detach())) < 0 else polygon


def _check_polygon(polygon: torch.Tensor, name: str = "polygon") -> None:
    if polygon.dim() != 2 or polygon.shape[1] != 2 or polygon.shape[0] < 3:
        raise ValueError(f"{name} must be a (P, 2) tensor with P >= 3, got {tuple(polygon.shape)}")
    if not polygon.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {polygon.dtype}")


# --------------------------------------------------------------------------------------------
# Exact pixel coverage
# --------------------------------------------------------------------------------------------


def _relu_mean(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Mean of ``max(w, 0)`` for ``w`` running linearly from ``u`` to ``v`` (elementwise, any
    broadcastable shapes). Continuously differentiable except at ``u = v = 0``."""
    positive = (u >= 0) & (v >= 0)
    negative = (u <= 0) & (v <= 0)
    mixed = ~(positive | negative)
    top = torch.maximum(u, v)
    # The positive part has length top / |u - v| of the segment and mean top / 2 there.
    denominator = torch.where(mixed, (u - v).abs(), torch.ones_like(u))
    mixed_mean = top * top / (2 * denominator)
    zero = torch.zeros_like(mixed_mean)
    return torch.where(positive, 0.5 * (u + v), torch.where(mixed, mixed_mean, zero))


def _pixel_range(low: float, high: float, image_size: int) -> tuple[int, int]:
    """Half-open range of pixel indices (counted from 0 along increasing ``(coordinate + 1)``)
    whose cells ``[-1 + 2k/S, -1 + 2(k+1)/S]`` may meet ``[low, high]``, with one cell of margin
    on each side (so that one-sided derivatives at cell boundaries are kept), clipped to
    ``[0, S]``."""
    scale = image_size / 2.0
    first = math.floor((low + 1.0) * scale) - 1
    last = math.floor((high + 1.0) * scale) + 2
    return min(max(first, 0), image_size), min(max(last, 0), image_size)


def _signed_box_areas(
    polygon: torch.Tensor, column_lines: torch.Tensor, row_tops: torch.Tensor, row_bottoms: torch.Tensor
) -> torch.Tensor:
    """Signed areas ``(R, C)`` of ``polygon ∩ cell`` (positive for a counter-clockwise polygon)
    for the cells ``[column_lines[c], column_lines[c+1]] x [row_bottoms[r], row_tops[r]]``.

    ``polygon`` is ``(P, 2)``, ``column_lines`` ``(C + 1,)`` increasing, ``row_tops`` and
    ``row_bottoms`` ``(R,)``.
    """
    start, end = polygon, polygon.roll(-1, dims=0)
    xa, ya = start[:, :1], start[:, 1:]  # (P, 1)
    xb, yb = end[:, :1], end[:, 1:]
    # The edge clamped to each row: Y runs from Y_start to Y_end, i.e. over the edge
    # parameters t_start..t_end, where x runs from x_start to x_end.
    y_start = torch.clamp(ya, min=row_bottoms, max=row_tops)  # (P, R)
    y_end = torch.clamp(yb, min=row_bottoms, max=row_tops)
    dy = yb - ya
    flat = dy == 0
    safe_dy = torch.where(flat, torch.ones_like(dy), dy)
    # A horizontal edge lies in a row entirely or not at all: its parameters are then 0 and 1
    # (which keeps the derivative of its zero contribution with respect to a vertical move).
    t_start = torch.where(flat, torch.zeros_like(y_start), (y_start - ya) / safe_dy).clamp(0, 1)
    t_end = torch.where(flat, torch.ones_like(y_end), (y_end - ya) / safe_dy).clamp(0, 1)
    x_start = xa + t_start * (xb - xa)  # (P, R)
    x_end = xa + t_end * (xb - xa)
    # ∮ relu(x - line) dY per row and vertical line, summed over the edges: (R, C + 1).
    mean = _relu_mean(x_start[..., None] - column_lines, x_end[..., None] - column_lines)
    line_terms = ((y_end - y_start)[..., None] * mean).sum(0)
    # clamp(x, x0, x1) = x0 + relu(x - x0) - relu(x - x1); the x0 terms cancel (∮ dY = 0).
    return line_terms[:, :-1] - line_terms[:, 1:]


def polygon_pixel_coverage(polygon: torch.Tensor, image_size: int) -> torch.Tensor:
    """Exact fraction of each pixel's area covered by a convex polygon.

    Args:
        polygon: ``(P, 2)`` vertices ``(x, y)`` in NDC, ``P >= 3``, convex, either winding; they
            may lie outside the image. Floating point; differentiable.
        image_size: ``S``.

    Returns:
        ``(S, S)`` coverage ``area(polygon ∩ pixel) / pixel_area(S)`` in ``[0, 1]`` (up to
        rounding), row 0 at the top. Differentiable with respect to ``polygon``; only the pixels
        of the polygon's bounding box (plus one pixel of margin) are computed.

    The formula (Green's theorem on the boundary clamped to each pixel, see the module
    docstring) holds for any simple polygon; convexity is not used by it.
    """
    _check_polygon(polygon)
    size = int(image_size)
    if size < 1:
        raise ValueError(f"image_size must be positive, got {image_size}")
    bounds = polygon.detach()
    x_low, y_low = bounds.min(0).values.tolist()
    x_high, y_high = bounds.max(0).values.tolist()
    c0, c1 = _pixel_range(x_low, x_high, size)
    r0, r1 = _pixel_range(-y_high, -y_low, size)  # rows count downwards from y = 1
    lines = torch.arange(size + 1, dtype=polygon.dtype, device=polygon.device) * (2.0 / size)
    column_lines = lines[c0 : c1 + 1] - 1.0  # x = -1 + 2c/S
    row_lines = 1.0 - lines[r0 : r1 + 1]  # y = 1 - 2r/S
    signed = _signed_box_areas(polygon, column_lines, row_lines[:-1], row_lines[1:])
    orientation = 1.0 if float(polygon_area(bounds)) >= 0 else -1.0
    local = signed * (orientation / pixel_area(size))
    return F.pad(local, (c0, size - c1, r0, size - r1))


# --------------------------------------------------------------------------------------------
# Convex hull and polygon clipping
# --------------------------------------------------------------------------------------------


def convex_hull(points: torch.Tensor) -> torch.Tensor:
    """Indices ``(H,)`` (long, on ``points``' device) of the 2D convex hull of ``points``
    ``(N, 2)``, counter-clockwise, starting at the lowest-x (then lowest-y) point; collinear
    boundary points are dropped.

    Non-differentiable index selection: ``points[convex_hull(points)]`` is the hull polygon,
    through which gradients reach the hull vertices. Degenerate inputs give ``H < 3`` (all
    points collinear: the two extremes; one distinct point: one index).
    """
    if points.dim() != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be (N, 2), got {tuple(points.shape)}")
    xy = points.detach().cpu().double().numpy()
    order = np.lexsort((xy[:, 1], xy[:, 0])).tolist()  # by x, then y (Andrew's monotone chain)

    def turns_left(o: int, a: int, b: int) -> bool:
        return (xy[a, 0] - xy[o, 0]) * (xy[b, 1] - xy[o, 1]) - (xy[a, 1] - xy[o, 1]) * (
            xy[b, 0] - xy[o, 0]
        ) > 0

    def half(indices: list[int]) -> list[int]:
        chain: list[int] = []
        for index in indices:
            while len(chain) >= 2 and not turns_left(chain[-2], chain[-1], index):
                chain.pop()
            chain.append(index)
        return chain

    lower, upper = half(order), half(order[::-1])
    hull = lower[:-1] + upper[:-1]
    if not hull:  # fewer than two points
        hull = order[:1]
    elif len(hull) == 2 and np.array_equal(xy[hull[0]], xy[hull[1]]):  # coincident points
        hull = hull[:1]
    return torch.tensor(hull, dtype=torch.long, device=points.device)


def _clip_half_plane(vertices: list[torch.Tensor], a: torch.Tensor, b: torch.Tensor) -> list[torch.Tensor]:
    """One Sutherland-Hodgman step: the part of the polygon ``vertices`` (list of ``(2,)``) on
    the left of (or on) the directed line ``a -> b``."""
    if not vertices:
        return []
    points = torch.stack(vertices)
    sides = _cross(a, b, points)  # (n,): >= 0 inside
    side_values = sides.detach().tolist()
    kept: list[torch.Tensor] = []
    for j, current in enumerate(vertices):
        previous, s_prev, s_cur = vertices[j - 1], side_values[j - 1], side_values[j]
        # The crossing point is added only where it differs from both endpoints.
        if s_cur >= 0:
            if s_prev < 0 and s_cur > 0:
                kept.append(_segment_line_point(previous, current, sides[j - 1], sides[j]))
            kept.append(current)
        elif s_prev > 0:
            kept.append(_segment_line_point(previous, current, sides[j - 1], sides[j]))
    return kept


def _segment_line_point(
    p: torch.Tensor, q: torch.Tensor, side_p: torch.Tensor, side_q: torch.Tensor
) -> torch.Tensor:
    """Point ``(2,)`` where segment ``p -> q`` crosses the line on which the (affine) side
    function vanishes, given its values at ``p`` and ``q`` (of opposite signs)."""
    t = side_p / (side_p - side_q)
    return p + t * (q - p)


def clip_convex(subject: torch.Tensor, clip: torch.Tensor) -> torch.Tensor:
    """Intersection ``(K, 2)`` of two convex polygons (Sutherland-Hodgman), differentiable.

    Args:
        subject: ``(P, 2)`` convex polygon, either winding; the result keeps its winding and,
            where ``subject`` lies inside ``clip``, exactly its vertices in its order.
        clip: ``(Q, 2)`` convex polygon, either winding.

    Returns:
        The intersection polygon, or an empty ``(0, 2)`` tensor when they do not overlap
        (fewer than three vertices left). Polygons that only touch along an edge may give a
        degenerate (zero-area) result.
    """
    _check_polygon(subject, "subject")
    _check_polygon(clip, "clip")
    clip = _counter_clockwise(clip)
    vertices = list(subject.unbind(0))
    for i in range(clip.shape[0]):
        vertices = _clip_half_plane(vertices, clip[i], clip[(i + 1) % clip.shape[0]])
    if len(vertices) < 3:
        return subject.new_zeros((0, 2))
    return torch.stack(vertices)


# --------------------------------------------------------------------------------------------
# Scenes: flat-coloured polygons, front to back
# --------------------------------------------------------------------------------------------


def _visible_coverage(polygons: Sequence[torch.Tensor], index: int, image_size: int) -> torch.Tensor:
    """Coverage ``(S, S)`` of the part of ``polygons[index]`` not hidden by the earlier (front)
    polygons: inclusion-exclusion ``sum over J ⊆ {0..index-1} of (-1)^|J| cov(P_index ∩ P_J)``,
    enumerated depth first and pruned where an intersection is empty."""

    def terms(region: torch.Tensor, first: int, sign: float) -> torch.Tensor:
        total = sign * polygon_pixel_coverage(region, image_size)
        for j in range(first, index):
            overlap = clip_convex(region, polygons[j])
            if overlap.shape[0]:
                total = total + terms(overlap, j + 1, -sign)
        return total

    return terms(polygons[index], 0, 1.0)


def layered_image(
    polygons: Sequence[torch.Tensor],
    colors: Sequence[torch.Tensor],
    image_size: int,
    background: Sequence[float] | torch.Tensor = (0.0, 0.0, 0.0),
) -> torch.Tensor:
    """Exact box-filtered RGBA image ``(4, S, S)`` of flat-coloured convex polygons.

    Args:
        polygons: ``n`` convex polygons ``(P_i, 2)`` (either winding), listed FRONT TO BACK:
            polygon 0 is in front and occludes all the later ones.
        colors: ``n`` RGB colours ``(3,)``.
        image_size: ``S``.
        background: RGB ``(3,)`` of the uncovered area.

    Returns:
        ``(4, S, S)``: RGB ``sum_i c_i vis_i + background (1 - alpha)`` and alpha
        ``sum_i vis_i`` (the coverage of the union), where ``vis_i`` is the coverage of the
        visible part ``P_i minus (P_0 ∪ ... ∪ P_{i-1})``, computed by inclusion-exclusion over
        intersections of convex polygons. For two layers: ``vis_0 = cov(P0)``,
        ``vis_1 = cov(P1) - cov(P1 ∩ P0)``. Differentiable with respect to the vertices and
        colours. The cost grows with the number of non-empty intersections (up to ``2^n``).
    """
    if len(polygons) != len(colors):
        raise ValueError(f"{len(polygons)} polygons but {len(colors)} colours")
    if not polygons:
        raise ValueError("at least one polygon is needed")
    for i, polygon in enumerate(polygons):
        _check_polygon(polygon, f"polygons[{i}]")
    reference = polygons[0]
    palette = torch.stack([torch.as_tensor(c, dtype=reference.dtype, device=reference.device) for c in colors])
    if palette.shape[1:] != (3,):
        raise ValueError(f"colours must be (3,), got {tuple(palette.shape[1:])}")
    back = torch.as_tensor(background, dtype=reference.dtype, device=reference.device).reshape(3, 1, 1)
    visible = torch.stack([_visible_coverage(polygons, i, image_size) for i in range(len(polygons))])
    alpha = visible.sum(0)  # (S, S)
    rgb = torch.einsum("nc,nhw->chw", palette, visible) + back * (1 - alpha)
    return torch.cat((rgb, alpha[None]), dim=0)


def triangle_image(
    triangle: torch.Tensor,
    color: torch.Tensor,
    image_size: int,
    background: Sequence[float] | torch.Tensor = (0.0, 0.0, 0.0),
) -> torch.Tensor:
    """Exact box-filtered RGBA image ``(4, S, S)`` of one flat-coloured triangle ``(3, 2)`` with
    colour ``(3,)`` over ``background`` ``(3,)``."""
    return layered_image([triangle], [color], image_size, background)


def convex_silhouette(points: torch.Tensor, image_size: int) -> torch.Tensor:
    """Exact coverage ``(S, S)`` of the convex hull of ``points`` ``(N, 2)``: the silhouette of
    a convex closed mesh whose projected vertices are ``points``. Differentiable with respect to
    the hull vertices; zero (still attached to ``points``) when the hull is degenerate."""
    hull = convex_hull(points)
    if hull.shape[0] < 3:
        return points.new_zeros((image_size, image_size)) + 0 * points.sum()
    return polygon_pixel_coverage(points[hull], image_size)
