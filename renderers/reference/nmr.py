"""Plain-PyTorch reference of the Neural 3D Mesh Renderer's rasterizer, forward and backward.

Written straight from REFERENCE section 6 and the choices listed in :mod:`renderers.nmr`,
for small images; tests compare the compiled kernels with it.

* Forward (dense over all pixel x face pairs): edge functions ``E_k(p)`` with the sign of the
  signed double area ``A`` (zero counts) mean "covered"; ``w = E / A`` clipped to [0, 1] and
  renormalised, perspective-corrected ``w'_k = (w_k / z_k) / sum_m (w_m / z_m)``, depth
  ``1 / sum_m (w_m / z_m)`` within ``[near, far]``; the nearest face wins (first index on ties).
  Faces with a non-finite coordinate, ``|A| <= 1e-10``, a vertex with ``z <= 0`` or (single-sided)
  ``A >= 0`` are not drawn.
* Colour: the winning face's texture sampled at ``w'`` with ordinary differentiable tensor
  operations, so autograd gives the exact colour and texture gradients.
* Kato's approximate gradient of the visibility (:func:`kato_gradient_reference`): explicit
  Python loops over faces, axes, edges, pixel lines and pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "nmr_rasterize_reference",
    "rasterize_maps_reference",
    "kato_gradient_reference",
    "zbuffer_pixels",
    "pixel_centres",
]

MIN_AREA = 1e-10


def _centres(size: int) -> np.ndarray:
    """Pixel-centre coordinates ``(2i + 1 - S) / S``, i = 0..S-1 (x of column i; y of row S-1-i)."""
    return np.array([(2 * i + 1 - size) / size for i in range(size)])


def _edge_functions(x: torch.Tensor, y: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """``E_k = (x_i - px)(y_j - py) - (x_j - px)(y_i - py)``, i = k+1, j = k+2, stacked on the last dim."""
    out = []
    for k in range(3):
        i, j = (k + 1) % 3, (k + 2) % 3
        out.append((x[..., i] - px) * (y[..., j] - py) - (x[..., j] - px) * (y[..., i] - py))
    return torch.stack(out, dim=-1)


def _signed_area(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x[..., 1] - x[..., 0]) * (y[..., 2] - y[..., 0]) - (x[..., 2] - x[..., 0]) * (y[..., 1] - y[..., 0])


def _drawable(face_vertices: torch.Tensor, double_sided: bool) -> torch.Tensor:
    area = _signed_area(face_vertices[..., 0], face_vertices[..., 1])
    finite = torch.isfinite(face_vertices).flatten(-2).all(dim=-1)
    ok = finite & (area.abs() > MIN_AREA) & (face_vertices[..., 2] > 0).all(dim=-1)
    return ok if double_sided else ok & (area < 0)


def _perspective(w: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Clip + renormalise ``w (..., 3)``, then perspective-correct with vertex depths ``z (..., 3)``."""
    c = w.clamp(0, 1)
    w_clip = c / c.sum(dim=-1, keepdim=True).clamp(min=1e-5)
    q = w_clip * (1.0 / z)
    total = q.sum(dim=-1, keepdim=True)
    return q / total, 1.0 / total[..., 0]


@torch.no_grad()
def zbuffer_pixels(
    face_vertices: torch.Tensor,
    px: torch.Tensor,
    py: torch.Tensor,
    near: float = 0.1,
    far: float = 100.0,
    double_sided: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Dense z-buffer at pixel centres ``px, py (P,)``: face index ``(B, P)`` (-1 empty),
    perspective-corrected weights ``(B, P, 3)`` and depth ``(B, P)`` (``far`` where empty)."""
    x = face_vertices[..., 0][:, None]  # (B, 1, F, 3)
    y = face_vertices[..., 1][:, None]
    z = face_vertices[..., 2][:, None]
    area = _signed_area(x, y)  # (B, 1, F)
    drawable = _drawable(face_vertices, double_sided)[:, None]
    e = _edge_functions(x, y, px[None, :, None], py[None, :, None])  # (B, P, F, 3)
    inside = torch.where(area[..., None] > 0, e >= 0, e <= 0).all(dim=-1) & drawable
    wp, depth = _perspective(e / area[..., None], z.expand_as(e))
    valid = inside & (depth >= near) & (depth <= far)
    best_depth, best = torch.where(valid, depth, torch.full_like(depth, math.inf)).min(dim=-1)  # first on ties
    empty = ~valid.any(dim=-1)
    best = torch.where(empty, torch.full_like(best, -1), best)
    weights = torch.gather(wp, 2, best.clamp(min=0)[..., None, None].expand(-1, -1, 1, 3))[:, :, 0]
    weights = torch.where(empty[..., None], torch.zeros_like(weights), weights)
    return best, weights, torch.where(empty, torch.full_like(best_depth, far), best_depth)


def pixel_centres(size: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``px, py (S*S,)`` of the pixels in row-major order (row 0 at the top)."""
    xs = torch.tensor(_centres(size), dtype=dtype, device=device)
    py, px = torch.meshgrid(xs.flip(0), xs, indexing="ij")
    return px.reshape(-1), py.reshape(-1)


@torch.no_grad()
def rasterize_maps_reference(
    face_vertices: torch.Tensor,
    image_size: int,
    near: float = 0.1,
    far: float = 100.0,
    double_sided: bool = True,
    chunk: int = 4096,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Dense z-buffer: ``face_index (B, S, S)`` int64 (-1 empty), ``weights (B, S, S, 3)``, ``depth (B, S, S)``."""
    batch, size = face_vertices.shape[0], image_size
    px, py = pixel_centres(size, face_vertices.dtype, face_vertices.device)
    parts = [
        zbuffer_pixels(face_vertices, px[i : i + chunk], py[i : i + chunk], near, far, double_sided)
        for i in range(0, size * size, chunk)
    ]
    index, weights, depth = (torch.cat(p, dim=1) for p in zip(*parts))
    return index.reshape(batch, size, size), weights.reshape(batch, size, size, 3), depth.reshape(batch, size, size)


def _sample(face_colors: torch.Tensor, wp: torch.Tensor, kind: str) -> torch.Tensor:
    """Colours ``(N, 3)`` of per-pixel face colour blocks ``(N, T, 3)`` at barycentrics ``wp (N, 3)``."""
    if kind == "vertex":
        return (wp[:, :, None] * face_colors).sum(dim=1)
    texels = face_colors.shape[1]
    rows = torch.arange(wp.shape[0], device=wp.device)
    if kind == "surface":
        res = math.isqrt(texels)
        wx = (wp[:, 0] * res).long().clamp(max=res - 1)
        wy = (wp[:, 1] * res).long().clamp(max=res - 1)
        lower = (wp[:, 0] + wp[:, 1]) * res - wx - wy <= 1
        index = torch.where(lower, wy * res + wx, (res - 1 - wy) * res + (res - 1 - wx))
        return face_colors[rows, index]
    res = round(texels ** (1 / 3))
    if res == 1:
        return face_colors[:, 0]
    pos = wp * (res - 1)
    base = pos.floor().long().clamp(max=res - 2)
    frac = pos - base
    colour = torch.zeros(wp.shape[0], 3, dtype=wp.dtype, device=wp.device)
    for corner in range(8):
        bits = [(corner >> (2 - k)) & 1 for k in range(3)]
        weight = torch.ones_like(frac[:, 0])
        index = torch.zeros_like(base[:, 0])
        for k, bit in enumerate(bits):
            weight = weight * (frac[:, k] if bit else 1 - frac[:, k])
            index = index * res + (base[:, k] + bit).clamp(max=res - 1)
        colour = colour + weight[:, None] * face_colors[rows, index]
    return colour


def kato_gradient_reference(
    face_vertices: torch.Tensor,
    image: torch.Tensor,
    face_index: torch.Tensor,
    grad_image: torch.Tensor,
    eps: float = 1e-3,
    double_sided: bool = True,
    only_faces: Sequence[int] | None = None,
) -> torch.Tensor:
    """Kato's approximate gradient ``(B, F, 3, 3)`` (x and y; z is 0) for an RGBA ``image (B, 4, S, S)``
    with its ``face_index (B, S, S)`` and upstream ``grad_image (B, 4, S, S)``. Loops, for small images;
    ``only_faces`` restricts the work to some faces (benchmarks time a subset)."""
    fv = face_vertices.detach().cpu().double().numpy()
    img = image.detach().cpu().double().numpy()
    owner = face_index.detach().cpu().numpy()
    up = grad_image.detach().cpu().double().numpy()
    drawable = _drawable(face_vertices.detach().cpu().double(), double_sided).numpy()
    batch, num_faces = fv.shape[:2]
    size = img.shape[-1]
    centres = _centres(size)
    grad = np.zeros((batch, num_faces, 3, 3))

    def pixel(axis: int, along: int, line: int) -> tuple[int, int]:
        """(row, column) of the pixel at position `along` on line `line` of an axis."""
        if axis == 0:  # lines are rows, ordered by increasing y; positions by increasing x
            return size - 1 - line, along
        return size - 1 - along, line  # lines are columns; positions by increasing y

    for b in range(batch):
        for f in range(num_faces) if only_faces is None else only_faces:
            if not drawable[b, f]:
                continue
            x, y = fv[b, f, :, 0], fv[b, f, :, 1]
            area = (x[1] - x[0]) * (y[2] - y[0]) - (x[2] - x[0]) * (y[1] - y[0])

            def covers(px: float, py: float) -> bool:
                e = [(x[(k + 1) % 3] - px) * (y[(k + 2) % 3] - py) - (x[(k + 2) % 3] - px) * (y[(k + 1) % 3] - py)
                     for k in range(3)]
                return all(v >= 0 for v in e) if area > 0 else all(v <= 0 for v in e)

            for axis in (0, 1):
                u, v = (x, y) if axis == 0 else (y, x)
                area_uv = area if axis == 0 else -area  # swapping the axes flips the orientation
                for a in range(3):
                    bb = (a + 1) % 3
                    if v[a] == v[bb]:
                        continue
                    side = 1 if (v[a] - v[bb]) * area_uv > 0 else -1  # direction of the face's interior along u
                    for line in range(size):
                        vj = centres[line]
                        if not min(v[a], v[bb]) <= vj <= max(v[a], v[bb]):
                            continue
                        t_a = (vj - v[bb]) / (v[a] - v[bb])
                        t_b = 1 - t_a
                        u_c = t_a * u[a] + t_b * u[bb]
                        beyond = [i for i in range(size) if (centres[i] > u_c if side > 0 else centres[i] < u_c)]
                        inner = (min(beyond) if beyond else size) if side > 0 else (max(beyond) if beyond else -1)
                        outer = inner - side

                        def add(i: int, new: np.ndarray, direction: int) -> None:
                            r, c = pixel(axis, i, line)
                            g = float(((new - img[b, :, r, c]) * up[b, :, r, c]).sum())
                            if not g < 0:  # only moves that lower the loss
                                return
                            for end, t in ((a, t_a), (bb, t_b)):
                                if t > 0:  # displacement of this endpoint, pushed eps away from 0
                                    grad[b, f, end, axis] += g / ((centres[i] - u_c) * (1 / t) + direction * eps)

                        if 0 <= inner < size and owner[b][pixel(axis, inner, line)] == f:
                            new = img[b, :, pixel(axis, inner, line)[0], pixel(axis, inner, line)[1]].copy()
                            i = outer
                            while 0 <= i < size:  # outward, to the image border
                                add(i, new, -side)
                                i -= side
                        if 0 <= outer < size and 0 <= inner < size:
                            new = img[b, :, pixel(axis, outer, line)[0], pixel(axis, outer, line)[1]].copy()
                            i = inner
                            while 0 <= i < size:  # inward, over the face's span on this line
                                r, c = pixel(axis, i, line)
                                px, py = (centres[i], vj) if axis == 0 else (vj, centres[i])
                                if not covers(px, py):
                                    break
                                if owner[b, r, c] == f:
                                    add(i, new, side)
                                i += side
    return torch.from_numpy(grad).to(face_vertices)


class _KatoGradient(torch.autograd.Function):
    """Identity on the image; its backward adds Kato's gradient for the face vertices."""

    @staticmethod
    def forward(ctx, face_vertices, image, face_index, eps, double_sided):
        ctx.save_for_backward(face_vertices, image, face_index)
        ctx.eps, ctx.double_sided = eps, double_sided
        return image.clone()

    @staticmethod
    def backward(ctx, grad_image):
        face_vertices, image, face_index = ctx.saved_tensors
        grad = kato_gradient_reference(face_vertices, image, face_index, grad_image, ctx.eps, ctx.double_sided)
        return grad, grad_image, None, None, None


def nmr_rasterize_reference(
    face_vertices: torch.Tensor,
    face_colors: torch.Tensor | None,
    image_size: int,
    kind: str = "surface",
    near: float = 0.1,
    far: float = 100.0,
    eps: float = 1e-3,
    double_sided: bool = True,
    background: Sequence[float] = (0.0, 0.0, 0.0),
) -> torch.Tensor:
    """Same inputs and semantics as :func:`renderers.nmr.hard_rasterize`; differentiable.

    face_vertices ``(B, F, 3, 3)``; face_colors ``None`` or ``(B, F, T, 3)`` of ``kind``
    "vertex", "surface" or "volume" (T = N^3). Returns ``(B, 4, S, S)``.
    """
    batch = face_vertices.shape[0]
    size = image_size
    face_index, _, _ = rasterize_maps_reference(face_vertices.detach(), size, near, far, double_sided)
    covered = face_index >= 0
    alpha = covered.to(face_vertices.dtype)
    if face_colors is None:
        rgb = torch.zeros(batch, size, size, 3, dtype=face_vertices.dtype, device=face_vertices.device)
    else:
        rgb = torch.tensor(background, dtype=face_vertices.dtype, device=face_vertices.device).expand(
            batch, size, size, 3
        ).clone()
        b_idx, r_idx, c_idx = covered.nonzero(as_tuple=True)
        f_idx = face_index[b_idx, r_idx, c_idx]
        centres = torch.tensor(_centres(size), dtype=face_vertices.dtype, device=face_vertices.device)
        px, py = centres[c_idx], centres.flip(0)[r_idx]
        verts = face_vertices[b_idx, f_idx]  # (N, 3, 3), differentiable
        x, y, z = verts[..., 0], verts[..., 1], verts[..., 2]
        w = _edge_functions(x, y, px, py) / _signed_area(x, y)[:, None]
        wp, _ = _perspective(w, z)
        colours = _sample(face_colors[b_idx, f_idx], wp, kind)
        rgb = rgb.index_put((b_idx, r_idx, c_idx), colours)
    image = torch.cat((rgb.permute(0, 3, 1, 2), alpha[:, None]), dim=1)
    return _KatoGradient.apply(face_vertices, image, face_index, eps, double_sided)
