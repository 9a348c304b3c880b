"""Plain-PyTorch reference of the edge-sampling estimator (:mod:`renderers.edge`).

Given the same seed it draws the same samples (:mod:`renderers.random`) and computes the same
estimate with dense tensor operations: the area samples' nearest faces by brute force over every
face (no tiles), the shading by ordinary differentiable operations (autograd gives the interior
term), and the boundary term as a zero-valued surrogate whose autograd gradient is the estimator:
for boundary sample k at parameter t on edge e = (a, b) with normal n, standing for a length h of
the edge (half its stratum: the samples come in antithetic pairs), pixel p_k gets ``(f_in - f_out) * (m_k - detach(m_k)) * h / A_pix`` with
``m_k = ((1 - t) a + t b) . n`` (t, n, the shading and h detached), whose derivative with respect
to a is ``(f_in - f_out) (1 - t) n h / A_pix``. The pixel pieces and sample positions are
computed with Python floats in the kernels' order of operations, so in float64 they are the
kernels' values. For small images only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..random import random_uniform
from ..topology import soup_edge_table
from .nmr import _drawable, _perspective, _sample, _signed_area, zbuffer_pixels

__all__ = ["edge_rasterize_reference", "area_sample_points", "edge_candidates_reference", "boundary_samples_reference"]

STREAM_AREA_X, STREAM_AREA_Y, STREAM_BOUNDARY = 0, 1, 2
STREAM_ROULETTE = 3
QUIET_KEEP = 0.25  # kQuietKeep of csrc/edge/edge_kernel.h


def area_sample_points(image: int, size: int, side: int, seed: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """``x, y (S*S*n*n,)`` of image ``image``'s area samples, pixel-major (row, col, sample)."""
    spp = side * side
    index = torch.arange(size * size * spp, dtype=torch.int64)
    counter = index + image * size * size * spp
    u = random_uniform(seed, STREAM_AREA_X, counter, dtype)
    v = random_uniform(seed, STREAM_AREA_Y, counter, dtype)
    s, pix = index % spp, index // spp
    row, col = pix // size, pix % size
    sub_x = ((s % side).to(dtype) + u) / side
    sub_y = (torch.div(s, side, rounding_mode="floor").to(dtype) + v) / side
    x = -1 + 2 * (col.to(dtype) + sub_x) / size
    y = 1 - 2 * (row.to(dtype) + sub_y) / size
    return x, y


def _shade(face_vertices: torch.Tensor, face_colors: torch.Tensor | None, kind: str | None, x: torch.Tensor,
           y: torch.Tensor, near: float, far: float, double_sided: bool, background) -> tuple[torch.Tensor, torch.Tensor]:
    """RGBA ``(P, 4)`` of one image's faces ``(1, F, 3, 3)`` at points ``x, y (P,)``, differentiable in
    the vertices and colours at fixed visibility, and the nearest face ``(P,)`` (-1: background)."""
    best, _, _ = zbuffer_pixels(face_vertices, x, y, near, far, double_sided)
    best = best[0]
    hit = best >= 0
    rgba = torch.zeros(x.shape[0], 4, dtype=face_vertices.dtype)
    if face_colors is not None:
        rgba[:, :3] = torch.tensor(background, dtype=face_vertices.dtype)
    rgba[hit, 3] = 1.0
    if face_colors is None or not hit.any():
        return rgba, best
    face = face_vertices[0, best[hit]]  # (H, 3, 3)
    fx, fy = face[..., 0], face[..., 1]
    px, py = x[hit, None], y[hit, None]
    e = []
    for k in range(3):
        i, j = (k + 1) % 3, (k + 2) % 3
        e.append((fx[:, i] - px[:, 0]) * (fy[:, j] - py[:, 0]) - (fx[:, j] - px[:, 0]) * (fy[:, i] - py[:, 0]))
    w = torch.stack(e, -1) / _signed_area(fx, fy)[:, None]
    wp, _ = _perspective(w, face[..., 2])
    colour = _sample(face_colors[0, best[hit]], wp, kind)
    rgba = torch.cat((rgba[:, :3].index_put((hit.nonzero()[:, 0],), colour), rgba[:, 3:]), 1)
    return rgba, best


def _clip_to_image(a: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Liang-Barsky clip of ``a + t d``, t in [0, 1], to [-1, 1]^2: ``t0, t1`` and whether it is visible."""
    t0 = torch.zeros(a.shape[0], dtype=a.dtype)
    t1 = torch.ones(a.shape[0], dtype=a.dtype)
    ok = torch.ones(a.shape[0], dtype=torch.bool)
    for p, q in ((-d[:, 0], a[:, 0] + 1), (d[:, 0], 1 - a[:, 0]), (-d[:, 1], a[:, 1] + 1), (d[:, 1], 1 - a[:, 1])):
        zero = p == 0
        ok &= ~(zero & (q < 0))
        r = torch.where(zero, torch.zeros_like(q), q / torch.where(zero, torch.ones_like(p), p))
        t0 = torch.where(~zero & (p < 0) & (r > t0), r, t0)
        t1 = torch.where(~zero & (p > 0) & (r < t1), r, t1)
    return t0, t1, ok & (t0 < t1)


def edge_candidates_reference(face_vertices: torch.Tensor, face_colors: torch.Tensor | None, kind: str | None,
                              edges: torch.Tensor, double_sided: bool, mixed: torch.Tensor,
                              extra: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
    """One image's candidate edges: endpoints ``a, b (E, 2)`` (face_a's slots), clipped ``t0, t1 (E,)``,
    clipped lengths ``(E,)`` (0 for non-candidates) and allocation weights ``(E,)`` (the length; 0 for
    quiet edges, whose clipped part's ends and middle lie in pixels that are not ``mixed (S, S)``);
    ``face_vertices (1, F, 3, 3)``, ``edges (E, 6)``; ``extra (E,)`` bool: more candidates (with shadows,
    the silhouettes seen from the light)."""
    fv = face_vertices[0].detach()
    drawable = _drawable(fv, double_sided)
    area = _signed_area(fv[..., 0], fv[..., 1])
    edges = edges.long()
    fa, fb = edges[:, 0], edges[:, 3]
    used = fa >= 0
    fa_, fb_ = fa.clamp(min=0), fb.clamp(min=0)
    da = drawable[fa_] & used
    db = drawable[fb_] & (fb >= 0) & used
    candidate = (fb < 0) | (da != db) | ((area[fa_] < 0) != (area[fb_] < 0))
    if face_colors is not None and kind is not None:
        fc = face_colors[0].detach()
        if kind == "vertex":
            sa0, sa1, sb0, sb1 = (edges[:, c].clamp(min=0) for c in (1, 2, 4, 5))
            differ = (fc[fa_, sa0] != fc[fb_, sb0]).any(-1) | (fc[fa_, sa1] != fc[fb_, sb1]).any(-1)
        else:
            differ = (fc[fa_, 0] != fc[fb_, 0]).any(-1)
        candidate |= differ
    if extra is not None:
        candidate |= extra
    candidate &= da | db
    slot0, slot1 = edges[:, 1].clamp(min=0), edges[:, 2].clamp(min=0)
    a = face_vertices[0, fa_, slot0, :2]
    b = face_vertices[0, fa_, slot1, :2]
    d = (b - a).detach()
    length = d.norm(dim=-1)
    t0, t1, visible = _clip_to_image(a.detach(), d)
    clipped = length * (t1 - t0)
    keep = candidate & visible & (length > 0) & (clipped > 0)
    clipped = torch.where(keep, clipped, torch.zeros_like(clipped))
    size = mixed.shape[-1]
    busy = torch.zeros_like(keep)
    for t in (t0, t1, (t0 + t1) / 2):
        point = a.detach() + t[:, None] * d
        row = torch.tensor([_pixel_of(v, True, size) for v in point[:, 1].tolist()], dtype=torch.int64)
        col = torch.tensor([_pixel_of(v, False, size) for v in point[:, 0].tolist()], dtype=torch.int64)
        busy |= mixed[row, col]
    weights = torch.where(busy, clipped, torch.zeros_like(clipped))
    return a, b, t0, t1, clipped, weights


def mixed_pixels_reference(won: torch.Tensor, silhouette: bool) -> torch.Tensor:
    """``(S, S)`` bool: the area samples ``won (S, S, spp)`` (face per sample, -1: background) of the
    pixel and its four neighbours disagree (silhouettes: some covered, some empty)."""
    size = won.shape[0]
    padded = torch.nn.functional.pad(won.permute(2, 0, 1), (1, 1, 1, 1), value=-2)  # -2: outside the image
    stack = torch.cat([padded[:, 1 + dr : 1 + dr + size, 1 + dc : 1 + dc + size] for dr, dc in
                       ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))])  # (5 spp, S, S)
    inside = stack != -2
    if silhouette:
        return ((stack >= 0) & inside).any(0) & ((stack == -1) & inside).any(0)
    return ((stack != won[None, :, :, 0]) & inside).any(0)


def _pixel_of(v: float, rows: bool, size: int) -> int:
    pos = ((1 - v) if rows else (v + 1)) * size / 2
    return size - 1 if pos >= size else int(math.floor(pos)) if pos > 0 else 0


def pixel_index(x: torch.Tensor, y: torch.Tensor, size: int) -> torch.Tensor:
    """Flat pixel index ``(P,)`` (row-major) of the points ``x, y (P,)`` of the image square, as the
    kernels' edge_pixel_of assigns them."""
    col = torch.tensor([_pixel_of(v, False, size) for v in x.tolist()], dtype=torch.int64)
    row = torch.tensor([_pixel_of(v, True, size) for v in y.tolist()], dtype=torch.int64)
    return row * size + col


def pixel_pieces_reference(a: tuple[float, float], b: tuple[float, float], t0: float, t1: float,
                           size: int) -> list[float]:
    """Parameters ``tau_0 = t0 < ... < tau_K = t1`` where the clipped segment a + t (b - a) crosses
    the pixel grid (its K pixel pieces), merging column and row crossings in parameter order."""
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    col0, row0 = _pixel_of(ax + t0 * dx, False, size), _pixel_of(ay + t0 * dy, True, size)
    dcol = _pixel_of(ax + t1 * dx, False, size) - col0
    drow = _pixel_of(ay + t1 * dy, True, size) - row0

    def crossing(i: int, rows: bool) -> float:
        step, first = (drow, row0) if rows else (dcol, col0)
        line = first + (1 + i if step > 0 else -i)
        if rows:
            return ((1 - 2 * line / size) - ay) / (by - ay)
        return ((-1 + 2 * line / size) - ax) / (bx - ax)

    taus, ix, iy = [t0], 0, 0
    for _ in range(abs(dcol) + abs(drow)):
        take_x = iy >= abs(drow) or (ix < abs(dcol) and crossing(ix, False) <= crossing(iy, True))
        if take_x:
            t, ix = crossing(ix, False), ix + 1
        else:
            t, iy = crossing(iy, True), iy + 1
        taus.append(min(max(t, t0), t1))
    taus.append(t1)
    return taus


def boundary_samples_reference(image: int, a: torch.Tensor, b: torch.Tensor, t0: torch.Tensor, t1: torch.Tensor,
                               lengths: torch.Tensor, weights: torch.Tensor, samples: int, size: int,
                               seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # (quiet edges, weight 0, are kept with probability QUIET_KEEP and weighted by its inverse)
    """One image's boundary samples in kernel order: their edge ``(M,)``, parameter t ``(M,)`` and the
    length each stands for ``(M,)`` (half its stratum's). Edge e's clipped part is cut into its K_e
    pixel pieces, each with ``q_e = max(1, ceil(N w_e / (2 W K_e)))`` strata of an antithetic pair
    (u and 1 - u of the stratum)."""
    num_edges = lengths.shape[0]
    total = float(torch.cumsum(weights, 0)[-1])  # summed in edge order, as the kernels do
    edge_ids, ts, strata = [], [], []
    j = 0
    for e in range(num_edges):
        length = float(lengths[e])
        if not length > 0:
            continue
        ax, ay = (float(v) for v in a[e])
        bx, by = (float(v) for v in b[e])
        taus = pixel_pieces_reference((ax, ay), (bx, by), float(t0[e]), float(t1[e]), size)
        pieces = len(taus) - 1
        scale = 1.0
        if float(weights[e]) > 0:
            share = math.ceil(samples * float(weights[e]) / (2 * total * pieces))
            per_piece = min(max(share, 1), samples)
        else:
            keep = float(random_uniform(seed, STREAM_ROULETTE, torch.tensor(image * num_edges + e)))
            if not keep < QUIET_KEEP:
                continue
            per_piece, scale = 1, 1.0 / QUIET_KEEP
        full = math.sqrt((bx - ax) * (bx - ax) + (by - ay) * (by - ay))
        count = 2 * pieces * per_piece  # an antithetic pair per stratum
        u = random_uniform(seed, STREAM_BOUNDARY, torch.arange(j, j + count) + (image << 32)).tolist()
        for m in range(count):
            piece, within = m // (2 * per_piece), m % (2 * per_piece)
            mirrored = within % 2 == 1
            lo = taus[piece]
            hi = max(taus[piece + 1], lo)
            v = 1 - u[m - 1] if mirrored else u[m]
            ts.append(lo + ((within // 2 + v) / per_piece) * (hi - lo))
            strata.append((hi - lo) * full / (2 * per_piece) * scale)
            edge_ids.append(e)
        j += count
    dtype = lengths.dtype
    return torch.tensor(edge_ids, dtype=torch.int64), torch.tensor(ts, dtype=dtype), torch.tensor(strata, dtype=dtype)


def edge_rasterize_reference(
    face_vertices: torch.Tensor,
    face_colors: torch.Tensor | None,
    image_size: int,
    kind: str = "surface",
    *,
    edges: torch.Tensor | None = None,
    samples_per_pixel: int = 4,
    edge_samples: int | None = None,
    seed: int = 0,
    offset: float = 1e-3,
    near: float = 0.1,
    far: float = 100.0,
    double_sided: bool = True,
    background=(0.0, 0.0, 0.0),
    shader: Callable[[int, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None,
    candidate_colors: torch.Tensor | None = None,
    extra_candidates: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """The edge-sampled image ``(B, 4, S, S)`` of :func:`renderers.edge.edge_rasterize` for the same
    samples, with autograd giving the same gradient estimate. ``edges``: ``(E, 6)`` or ``(B, E, 6)``.

    shader: ``shader(b, x, y) -> (rgba (P, 4), nearest face (P,))`` of image b at points ``x, y (P,)``
    in place of the flat or interpolated colours (the shadowed shading of
    :mod:`renderers.reference.shadow`); candidate_colors: the per-face colours ``(B, F, T, C)``
    whose differences across an edge make it a candidate (default: ``face_colors``);
    extra_candidates: ``extra_candidates(b, edges (E, 6)) -> (E,)`` bool, more candidate edges of image b."""
    batch, num_faces = face_vertices.shape[:2]
    size = image_size
    side = math.isqrt(samples_per_pixel)
    spp = side * side
    samples = size * size if edge_samples is None else edge_samples
    colour_kind = None if face_colors is None else kind
    if edges is None:
        edges = soup_edge_table(num_faces)
    delta = 2.0 * offset / size
    images = []
    for b in range(batch):
        fv = face_vertices[b : b + 1]
        fc = None if face_colors is None else face_colors[b : b + 1]

        def shade(x: torch.Tensor, y: torch.Tensor, b: int = b, fv: torch.Tensor = fv, fc=fc):
            if shader is not None:
                return shader(b, x, y)
            return _shade(fv, fc, colour_kind, x, y, near, far, double_sided, background)

        x, y = area_sample_points(b, size, side, seed, face_vertices.dtype)
        rgba, won = shade(x, y)
        image = rgba.view(size, size, spp, 4).mean(dim=2).permute(2, 0, 1)  # (4, S, S)
        table = edges[b] if edges.dim() == 3 else edges
        mixed = mixed_pixels_reference(won.view(size, size, spp), face_colors is None)
        colours = fc if candidate_colors is None else candidate_colors[b : b + 1]
        extra = None if extra_candidates is None else extra_candidates(b, table)
        a, bb, t0, t1, lengths, weights = edge_candidates_reference(fv, colours, colour_kind, table, double_sided, mixed,
                                                                    extra)
        if samples > 0 and lengths.numel() > 0 and float(lengths.sum()) > 0:
            e, t, stratum = boundary_samples_reference(b, a.detach(), bb.detach(), t0, t1, lengths, weights, samples,
                                                       size, seed)
            d = (bb[e] - a[e]).detach()
            normal = torch.stack((-d[:, 1], d[:, 0]), -1) / d.norm(dim=-1, keepdim=True)
            point = a[e].detach() + t[:, None] * d
            with torch.no_grad():
                f_in, _ = shade(point[:, 0] - delta * normal[:, 0], point[:, 1] - delta * normal[:, 1])
                f_out, _ = shade(point[:, 0] + delta * normal[:, 0], point[:, 1] + delta * normal[:, 1])
            moving = (((1 - t)[:, None] * a[e] + t[:, None] * bb[e]) * normal).sum(-1)
            weight = stratum * size * size / 4
            surrogate = (f_in - f_out) * ((moving - moving.detach()) * weight)[:, None]  # (M, 4), zero-valued
            flat = torch.zeros(size * size, 4, dtype=face_vertices.dtype).index_add(
                0, pixel_index(point[:, 0], point[:, 1], size), surrogate)
            image = image + flat.t().reshape(4, size, size)
        images.append(image)
    return torch.stack(images)
