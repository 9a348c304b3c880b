"""Plain-PyTorch reference of the OpenDR renderer, forward and backward.

Written straight from REFERENCE section 7 and the choices listed in :mod:`renderers.opendr`,
for small images; tests compare the compiled kernels with it.

* Z-buffer: the dense reference of the hard rasterizer (:func:`rasterize_maps_reference`).
* Boundary mask: the boundary edges of each image (:func:`boundary_lines_reference`), drawn pixel
  line by pixel line with explicit Python loops (:func:`line_pixels_reference`), each line point
  depth-tested against the z-buffer with the polygon offset; the nearest line point per pixel
  wins, then the first edge.
* Colour: the owner face's texture sampled at the (detached) barycentric maps with ordinary
  tensor operations, so autograd gives the texture gradients (the barycentric weights) and
  nothing else.
* Vertex gradient (:func:`opendr_vertex_gradient_reference`): OpenDR's image-space derivative
  ``-G b`` from :func:`image_gradient_reference`, scattered to the faces with ``index_add``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..topology import soup_edge_table
from .nmr import _centres, _drawable, _sample, rasterize_maps_reference

__all__ = [
    "boundary_lines_reference",
    "line_pixels_reference",
    "opendr_maps_reference",
    "overdraw_reference",
    "image_gradient_reference",
    "opendr_vertex_gradient_reference",
    "opendr_rasterize_reference",
    "OFFSET_FACTOR",
    "OFFSET_UNITS",
]

OFFSET_FACTOR = 10.0  # glPolygonOffset(10, 1) as OpenDR sets it
OFFSET_UNITS = 1e-6  # one resolvable unit: a relative 1e-6 of the inverse depth


def _inverse_depth_gradient(face: np.ndarray) -> tuple[float, float]:
    """d(sum_k w_k / z_k)/dx and /dy on screen of one face (3, 3)."""
    x, y, z = face[:, 0], face[:, 1], face[:, 2]
    area = (x[1] - x[0]) * (y[2] - y[0]) - (x[2] - x[0]) * (y[1] - y[0])
    gx = gy = 0.0
    for k in range(3):
        i, j = (k + 1) % 3, (k + 2) % 3
        gx += (1.0 / z[k]) * (y[i] - y[j])
        gy += (1.0 / z[k]) * (x[j] - x[i])
    return gx / area, gy / area


def _span(lo: float, hi: float, centres: np.ndarray) -> list[int]:
    return [i for i, c in enumerate(centres) if lo <= c <= hi]


def boundary_lines_reference(
    face_vertices: np.ndarray, edges: np.ndarray, drawable: np.ndarray, size: int
) -> list[dict]:
    """The boundary edges of one image, in edge order: ``face_vertices (F, 3, 3)`` float64,
    ``edges (E, 6)``, ``drawable (F,)`` bool. Each is a dict with the endpoints ``a``, ``b``, their
    inverse depths, the candidate faces and slots, the owner rule and the pixel lines drawn."""
    fv = face_vertices
    areas = (fv[:, 1, 0] - fv[:, 0, 0]) * (fv[:, 2, 1] - fv[:, 0, 1]) - (fv[:, 2, 0] - fv[:, 0, 0]) * (
        fv[:, 1, 1] - fv[:, 0, 1]
    )
    xs = _centres(size)  # x of column i
    ys = [(size - 1 - 2 * r) / size for r in range(size)]  # y of row r
    lines = []
    for fa, sa0, sa1, fb, sb0, sb1 in edges.tolist():
        if fa < 0:
            continue
        da, db = bool(drawable[fa]), fb >= 0 and bool(drawable[fb])
        if not (da or db) or (da and db and not areas[fa] * areas[fb] < 0):
            continue
        faces, slots = [fa, fb], [(sa0, sa1), (sb0, sb1)]
        k = 0 if da else 1
        src = fv[faces[k]]
        a, b = src[slots[k][0]], src[slots[k][1]]
        ex, ey = b[0] - a[0], b[1] - a[1]
        if ex == 0 and ey == 0:
            continue
        owner, side_a = None, 0.0
        if not (da and db):
            owner = faces[k]
        else:
            ca, cb = 3 - sa0 - sa1, 3 - sb0 - sb1
            side_a = ex * (fv[fa, ca, 1] - a[1]) - ey * (fv[fa, ca, 0] - a[0])
            side_b = ex * (fv[fb, cb, 1] - a[1]) - ey * (fv[fb, cb, 0] - a[0])
            if side_a * side_b > 0:  # a fold: the nearer face just inside owns it
                m = (-ey, ex) if side_a > 0 else (ey, -ex)
                ga, gb = _inverse_depth_gradient(fv[fa]), _inverse_depth_gradient(fv[fb])
                rate_a, rate_b = ga[0] * m[0] + ga[1] * m[1], gb[0] * m[0] + gb[1] * m[1]
                owner = fa if rate_a > rate_b else fb if rate_b > rate_a else min(fa, fb)
        x_major = not ex * ex < ey * ey
        if x_major:
            drawn = _span(min(a[0], b[0]), max(a[0], b[0]), xs)
        else:
            drawn = _span(min(a[1], b[1]), max(a[1], b[1]), ys)
        if not drawn:
            continue
        lines.append(dict(a=a[:2], b=b[:2], inv_z=(1.0 / a[2], 1.0 / b[2]), faces=faces, slots=slots, owner=owner,
                          side_a=side_a, x_major=x_major, drawn=drawn))
    return lines


def line_pixels_reference(line: dict, size: int) -> list[tuple[int, int, float, float]]:
    """``(row, col, t, q)`` of every line pixel of a boundary edge (see :mod:`renderers.opendr`)."""
    (ax, ay), (bx, by) = line["a"], line["b"]
    out = []
    for m in line["drawn"]:
        if line["x_major"]:
            t = min(max(((2 * m + 1 - size) / size - ax) / (bx - ax), 0.0), 1.0)
            across = ((size - 1) - (ay + t * (by - ay)) * size) * 0.5
        else:
            t = min(max(((size - 1 - 2 * m) / size - ay) / (by - ay), 0.0), 1.0)
            across = ((ax + t * (bx - ax)) * size + (size - 1)) * 0.5
        q = (1 - t) * line["inv_z"][0] + t * line["inv_z"][1]
        if not -1 < across < size:
            continue
        index = math.floor(across + 0.5)
        if 0 <= index < size:
            out.append((index, m, t, q) if line["x_major"] else (m, index, t, q))
    return out


def _visible(
    q: float, zface: int, zdepth: float, face_vertices: np.ndarray, size: int, near: float, far: float
) -> bool:
    z = 1.0 / q
    if not near <= z <= far:
        return False
    if zface < 0:
        return True
    gx, gy = _inverse_depth_gradient(face_vertices[zface])
    slope = max(abs(gx), abs(gy)) * (2.0 / size)
    qz = 1.0 / zdepth
    return q >= qz - (OFFSET_FACTOR * slope + OFFSET_UNITS * qz)


@torch.no_grad()
def overdraw_reference(
    face_vertices: torch.Tensor,
    face_index: torch.Tensor,
    weights: torch.Tensor,
    depth: torch.Tensor,
    edges: torch.Tensor | None = None,
    near: float = 0.1,
    far: float = 100.0,
    double_sided: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The boundary overdraw on z-buffer maps ``face_index (B, S, S)``, ``weights (B, S, S, 3)``,
    ``depth (B, S, S)`` of ``face_vertices (B, F, 3, 3)``: the overdrawn maps and ``mask (B, S, S)``."""
    batch, num_faces = face_vertices.shape[:2]
    size = face_index.shape[-1]
    if edges is None:
        edges = soup_edge_table(num_faces)
    table = edges.cpu().numpy()
    fv_all = face_vertices.detach().cpu().double().numpy()
    drawable_all = _drawable(face_vertices.detach().cpu().double(), double_sided).numpy()
    index, weights, depth = face_index.clone(), weights.clone(), depth.clone()
    mask = torch.zeros_like(index, dtype=torch.bool)
    for b in range(batch):
        fv, records = fv_all[b], table[b] if table.ndim == 3 else table
        zindex, zdepth = index[b].numpy().copy(), depth[b].double().numpy().copy()
        best: dict[tuple[int, int], tuple[float, int, float]] = {}  # pixel -> (q, line, t)
        lines = boundary_lines_reference(fv, records, drawable_all[b], size)
        for k, line in enumerate(lines):
            for row, col, t, q in line_pixels_reference(line, size):
                if not _visible(q, int(zindex[row, col]), float(zdepth[row, col]), fv, size, near, far):
                    continue
                if (row, col) not in best or q > best[(row, col)][0]:
                    best[(row, col)] = (q, k, t)
        for (row, col), (q, k, t) in best.items():
            line = lines[k]
            if line["owner"] is not None:
                which = line["faces"].index(line["owner"])
            else:
                px, py = (2 * col + 1 - size) / size, (size - 1 - 2 * row) / size
                (ax, ay), (bx, by) = line["a"], line["b"]
                side = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
                which = 1 if side * line["side_a"] < 0 else 0
            w = torch.zeros(3, dtype=weights.dtype)
            w[line["slots"][which][0]] = (1 - t) * line["inv_z"][0] / q
            w[line["slots"][which][1]] = t * line["inv_z"][1] / q
            index[b, row, col] = line["faces"][which]
            weights[b, row, col] = w
            depth[b, row, col] = 1.0 / q
            mask[b, row, col] = True
    return index, weights, depth, mask


@torch.no_grad()
def opendr_maps_reference(
    face_vertices: torch.Tensor,
    image_size: int,
    edges: torch.Tensor | None = None,
    overdraw: bool = True,
    near: float = 0.1,
    far: float = 100.0,
    double_sided: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``face_index (B, S, S)`` int64, ``weights (B, S, S, 3)``, ``depth (B, S, S)``, ``mask (B, S, S)`` bool."""
    index, weights, depth = rasterize_maps_reference(face_vertices, image_size, near, far, double_sided)
    if not overdraw:
        return index, weights, depth, torch.zeros_like(index, dtype=torch.bool)
    return overdraw_reference(face_vertices, index, weights, depth, edges, near, far, double_sided)


def image_gradient_reference(image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """OpenDR's image derivative ``G_x`` (along rows, +x) and ``G_y`` (down the columns, +row) of
    ``image (B, C, S, S)`` with boundary mask ``mask (B, S, S)``, in pixel units; see :mod:`renderers.opendr`."""

    def along_last(values: torch.Tensor, in_mask: torch.Tensor) -> torch.Tensor:
        n = values.shape[-1]
        m = in_mask[:, None].expand_as(values)
        out = torch.zeros_like(values)
        if n < 2:
            return out
        undivided = torch.zeros_like(values)
        undivided[..., 0] = 2 * (values[..., 1] - values[..., 0])
        undivided[..., -1] = 2 * (values[..., -1] - values[..., -2])
        undivided[..., 1:-1] = values[..., 2:] - values[..., :-2]
        right_ok = torch.zeros_like(m)
        right_ok[..., :-1] = ~m[..., 1:]
        left_ok = torch.zeros_like(m)
        left_ok[..., 1:] = ~m[..., :-1]
        right = torch.zeros_like(values)
        right[..., :-1] = values[..., 1:] - values[..., :-1]
        left = torch.zeros_like(values)
        left[..., 1:] = values[..., 1:] - values[..., :-1]
        both = (right + left) * 0.5
        out = torch.where(right_ok & left_ok, both, torch.where(right_ok, right, torch.where(left_ok, left, undivided)))
        return torch.where(m, undivided, out)

    gx = along_last(image, mask)
    gy = along_last(image.transpose(-1, -2), mask.transpose(-1, -2)).transpose(-1, -2)
    return gx, gy


def opendr_vertex_gradient_reference(
    image: torch.Tensor, face_index: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor, grad_image: torch.Tensor,
    num_faces: int,
) -> torch.Tensor:
    """``dL/d face_vertices (B, F, 3, 3)`` of OpenDR's image-space derivative (z: 0)."""
    batch, _, size, _ = image.shape
    gx, gy = image_gradient_reference(image, mask)
    dx = (grad_image * gx).sum(dim=1)  # (B, S, S)
    dy = (grad_image * gy).sum(dim=1)
    covered = face_index >= 0
    flat = (face_index + torch.arange(batch)[:, None, None] * num_faces)[covered]
    w = weights[covered]  # (N, 3)
    grad = torch.zeros(batch * num_faces, 3, 3, dtype=image.dtype)
    contribution = torch.stack((-(size / 2) * dx[covered][:, None] * w, (size / 2) * dy[covered][:, None] * w,
                                torch.zeros_like(w)), dim=-1)
    grad.index_add_(0, flat, contribution)
    return grad.view(batch, num_faces, 3, 3)


class _ImageSpaceGradient(torch.autograd.Function):
    """Identity on the image; its backward adds OpenDR's vertex gradient for the face vertices."""

    @staticmethod
    def forward(ctx, face_vertices, image, face_index, weights, mask):
        ctx.save_for_backward(image, face_index, weights, mask)
        ctx.num_faces = face_vertices.shape[1]
        return image.clone()

    @staticmethod
    def backward(ctx, grad_image):
        image, face_index, weights, mask = ctx.saved_tensors
        grad = opendr_vertex_gradient_reference(image, face_index, weights, mask, grad_image, ctx.num_faces)
        return grad, grad_image, None, None, None


def opendr_rasterize_reference(
    face_vertices: torch.Tensor,
    face_colors: torch.Tensor | None,
    image_size: int,
    kind: str = "surface",
    edges: torch.Tensor | None = None,
    overdraw: bool = True,
    near: float = 0.1,
    far: float = 100.0,
    double_sided: bool = True,
    background: Sequence[float] = (0.0, 0.0, 0.0),
) -> torch.Tensor:
    """Same inputs and semantics as :func:`renderers.opendr.opendr_rasterize`; differentiable."""
    batch, size = face_vertices.shape[0], image_size
    face_index, weights, _, mask = opendr_maps_reference(face_vertices.detach(), size, edges, overdraw, near, far,
                                                         double_sided)
    covered = face_index >= 0
    alpha = covered.to(face_vertices.dtype)
    if face_colors is None:
        rgb = torch.zeros(batch, size, size, 3, dtype=face_vertices.dtype)
    else:
        rgb = torch.tensor(background, dtype=face_vertices.dtype).expand(batch, size, size, 3).clone()
        b_idx, r_idx, c_idx = covered.nonzero(as_tuple=True)
        f_idx = face_index[b_idx, r_idx, c_idx]
        colours = _sample(face_colors[b_idx, f_idx], weights[b_idx, r_idx, c_idx], kind)
        rgb = rgb.index_put((b_idx, r_idx, c_idx), colours)
    image = torch.cat((rgb.permute(0, 3, 1, 2), alpha[:, None]), dim=1)
    return _ImageSpaceGradient.apply(face_vertices, image, face_index, weights, mask)
