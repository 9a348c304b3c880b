"""Dense PyTorch reference of the SoftRas forward (REFERENCE section 5); autograd gives its backward.

Same inputs and semantics as :func:`renderers.softras.soft_rasterize`, written straight
from the formulas over all (pixel, face) pairs:

* pixel centres ``x = (2c + 1 - S) / S``, ``y = (S - 1 - 2r) / S``;
* barycentrics from edge functions, ``|A|`` clamped to at least 1e-10;
* euclidean: ``d^2`` = squared distance to the nearest boundary point, ``delta`` = +1 inside
  (all barycentrics in (0, 1)), else -1; barycentric: ``sign(m) m^2`` with m the smallest
  barycentric;
* culling: outside the bounding box grown by ``sqrt(T)``, ``T = sigma log(1/dist_eps - 1)``, or
  outside with ``d^2 >= T`` (barycentric: ``-sign(m) m^2 >= T``);
* depth from clipped, renormalised barycentrics, ``z = 1 / sum(w_k / z_k)``, colour only
  within ``[near, far]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.utils.checkpoint

__all__ = ["soft_rasterize_reference"]


def _pixel_centres(size: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    index = torch.arange(size, device=device)
    xs = (2 * index + 1 - size).to(dtype) / size
    ys = (size - 1 - 2 * index).to(dtype) / size
    py, px = torch.meshgrid(ys, xs, indexing="ij")
    return px.reshape(-1), py.reshape(-1)


def _sample_texture(textures: torch.Tensor, w_clip: torch.Tensor, kind: str) -> torch.Tensor:
    """Colours ``(B, P, F, 3)`` at clipped barycentrics ``w_clip (B, P, F, 3)``."""
    if kind == "vertex":
        return (w_clip[..., :, None] * textures[:, None]).sum(dim=-2)
    batch, num_faces, texels, _ = textures.shape
    res = math.isqrt(texels)
    wx = (w_clip[..., 0] * res).long().clamp(max=res - 1)
    wy = (w_clip[..., 1] * res).long().clamp(max=res - 1)
    lower = (w_clip[..., 0] + w_clip[..., 1]) * res - wx - wy <= 1
    index = torch.where(lower, wy * res + wx, (res - 1 - wy) * res + (res - 1 - wx))  # (B, P, F)
    flat = textures.reshape(batch, 1, num_faces * texels, 3).expand(-1, index.shape[1], -1, -1)
    offsets = torch.arange(num_faces, device=index.device) * texels
    return torch.gather(flat, 2, (index + offsets)[..., None].expand(-1, -1, -1, 3))


def _rasterize_pixels(
    face_vertices: torch.Tensor,
    textures: torch.Tensor | None,
    px: torch.Tensor,
    py: torch.Tensor,
    *,
    kind: str,
    sigma: float,
    gamma: float,
    dist_eps: float,
    near: float,
    far: float,
    eps: float,
    dist_func: str,
    aggr_alpha: str,
    aggr_rgb: str | None,
    double_sided: bool,
    background: Sequence[float],
) -> torch.Tensor:
    """RGBA ``(B, P, 4)`` of the pixels ``(px, py)`` (each ``(P,)``)."""
    dtype, device = face_vertices.dtype, face_vertices.device
    scalar = lambda value: torch.tensor(value, dtype=dtype, device=device)  # noqa: E731
    threshold = scalar(sigma * math.log(1.0 / dist_eps - 1.0))
    radius = torch.sqrt(threshold.double()).to(dtype)
    num_faces = face_vertices.shape[1]

    x = face_vertices[..., 0][:, None]  # (B, 1, F, 3)
    y = face_vertices[..., 1][:, None]
    z = face_vertices[..., 2][:, None]
    PX = px[None, :, None]  # (1, P, 1)
    PY = py[None, :, None]

    # Barycentrics w_k = E_k / A with the signed double area clamped away from zero.
    x0, x1, x2 = x.unbind(-1)
    y0, y1, y2 = y.unbind(-1)
    raw_area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    area = torch.where(raw_area > 0, raw_area.clamp(min=1e-10), raw_area.clamp(max=-1e-10))
    xi, yi = x.roll(-1, dims=-1), y.roll(-1, dims=-1)  # vertex k + 1
    xj, yj = x.roll(-2, dims=-1), y.roll(-2, dims=-1)  # vertex k + 2
    wa = (yi - yj) / area[..., None]
    wb = (xj - xi) / area[..., None]
    wc = (xi * yj - xj * yi) / area[..., None]
    w = wa * PX[..., None] + wb * PY[..., None] + wc  # (B, P, F, 3)
    inside = ((w > 0) & (w < 1)).all(dim=-1)

    # Bounding box grown by the cull radius; faces turned away when single-sided.
    in_box = (
        (PX >= x.amin(-1) - radius) & (PX <= x.amax(-1) + radius) & (PY >= y.amin(-1) - radius) & (PY <= y.amax(-1) + radius)
    )
    visible = torch.ones_like(raw_area, dtype=torch.bool) if double_sided else raw_area < 0

    if dist_func == "euclidean":
        ex, ey = xi - x, yi - y  # edge k: vertex k -> k + 1
        len2 = ex * ex + ey * ey
        inv_len2 = torch.where(len2 > 0, 1.0 / torch.where(len2 > 0, len2, torch.ones_like(len2)), torch.zeros_like(len2))
        dx = PX[..., None] - x
        dy = PY[..., None] - y
        t = ((dx * ex + dy * ey) * inv_len2).clamp(0, 1)
        rx, ry = dx - t * ex, dy - t * ey
        d2, _ = (rx * rx + ry * ry).min(dim=-1)
        keep = inside | (d2 < threshold)
        logit = torch.where(inside, d2, -d2) * scalar(1.0 / sigma)
    else:
        m, _ = w.min(dim=-1)
        dis = torch.where(m > 0, m * m, -(m * m))
        keep = -dis < threshold
        logit = dis * scalar(1.0 / sigma)
    mask = in_box & keep & visible  # (B, P, F)
    coverage = torch.where(mask, torch.sigmoid(logit), torch.zeros_like(logit))

    if aggr_alpha == "prod":
        alpha = 1 - torch.prod(1 - coverage, dim=-1)
    elif aggr_alpha == "sum":
        alpha = coverage.sum(dim=-1) / num_faces
    else:
        alpha = (mask & (coverage > 0.5)).any(dim=-1).to(dtype)

    if aggr_rgb is None:
        return torch.cat((torch.zeros(*alpha.shape, 3, dtype=dtype, device=device), alpha[..., None]), dim=-1)

    c = w.clamp(0, 1)
    w_clip = c / c.sum(dim=-1, keepdim=True).clamp(min=1e-5)
    inverse_depth = (w_clip * (1.0 / z)).sum(dim=-1)  # perspective-correct, (B, P, F)
    # Safe reciprocal: a zero inverse depth (all clipped weights zero) gives an infinite depth
    # without poisoning the backward with 0 * inf.
    nonzero = inverse_depth != 0
    depth = torch.where(nonzero, 1.0 / torch.where(nonzero, inverse_depth, torch.ones_like(inverse_depth)), math.inf)
    in_range = (depth >= near) & (depth <= far)
    colour_mask = mask & in_range
    colors = _sample_texture(textures, w_clip, kind)  # (B, P, F, 3)
    bg = scalar(list(background))

    if aggr_rgb == "softmax":
        zn = (far - depth) * scalar(1.0 / (far - near))
        zn_max = torch.where(colour_mask, zn, torch.full_like(zn, -math.inf)).amax(dim=-1, keepdim=True)
        zn_max = torch.clamp(zn_max, min=eps).detach()  # the result does not depend on the shift
        exponent = torch.where(colour_mask, (zn - zn_max) * scalar(1.0 / gamma), torch.zeros_like(zn))
        weights = torch.where(colour_mask, coverage * torch.exp(exponent), torch.zeros_like(zn))
        bg_weight = torch.exp((eps - zn_max) * scalar(1.0 / gamma))  # (B, P, 1)
        total = weights.sum(dim=-1, keepdim=True) + bg_weight
        rgb = ((weights[..., None] * colors).sum(dim=-2) + bg_weight * bg) / total
    else:
        contains = ((w >= 0) & (w <= 1)).all(dim=-1)
        candidate = colour_mask & contains & (depth < far)
        masked_depth = torch.where(candidate, depth, torch.full_like(depth, math.inf))
        _, nearest = masked_depth.min(dim=-1)  # first face among equals
        has_face = candidate.any(dim=-1)
        picked = torch.gather(colors, 2, nearest[..., None, None].expand(-1, -1, 1, 3)).squeeze(2)
        rgb = torch.where(has_face[..., None], picked, bg.expand_as(picked))
    return torch.cat((rgb, alpha[..., None]), dim=-1)


def soft_rasterize_reference(
    face_vertices: torch.Tensor,
    face_colors: torch.Tensor | None,
    *,
    image_size: int,
    kind: str = "surface",
    sigma: float = 1e-5,
    gamma: float = 1e-4,
    dist_eps: float = 1e-4,
    near: float = 1.0,
    far: float = 100.0,
    eps: float = 1e-3,
    dist_func: str = "euclidean",
    aggr_alpha: str = "prod",
    aggr_rgb: str = "softmax",
    double_sided: bool = True,
    background: Sequence[float] = (0.0, 0.0, 0.0),
    pixels_per_chunk: int | None = None,
    checkpoint: bool = False,
    **_ignored,
) -> torch.Tensor:
    """Dense SoftRas: ``face_vertices (B, F, 3, 3)`` screen space -> ``(B, 4, S, S)``.

    ``face_colors`` is None (silhouette only), ``(B, F, R*R, 3)`` (kind "surface") or
    ``(B, F, 3, 3)`` (kind "vertex"). ``pixels_per_chunk`` evaluates the image in pixel
    chunks; with ``checkpoint=True`` each chunk is recomputed in the backward instead of
    stored, which bounds memory for large images.
    """
    batch = face_vertices.shape[0]
    px, py = _pixel_centres(image_size, face_vertices.dtype, face_vertices.device)
    settings = dict(
        kind=kind,
        sigma=sigma,
        gamma=gamma,
        dist_eps=dist_eps,
        near=near,
        far=far,
        eps=eps,
        dist_func=dist_func,
        aggr_alpha=aggr_alpha,
        aggr_rgb=None if face_colors is None else aggr_rgb,
        double_sided=double_sided,
        background=background,
    )
    chunk = pixels_per_chunk or px.numel()
    pieces = []
    for start in range(0, px.numel(), chunk):
        args = (face_vertices, face_colors, px[start : start + chunk], py[start : start + chunk])
        if checkpoint:
            pieces.append(
                torch.utils.checkpoint.checkpoint(lambda *a: _rasterize_pixels(*a, **settings), *args, use_reentrant=False)
            )
        else:
            pieces.append(_rasterize_pixels(*args, **settings))
    rgba = torch.cat(pieces, dim=1)  # (B, P, 4)
    return rgba.transpose(1, 2).reshape(batch, 4, image_size, image_size)
