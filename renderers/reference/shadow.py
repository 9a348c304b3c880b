"""Plain-PyTorch reference of edge sampling with shadows (:func:`renderers.edge.edge_shadow_rasterize`).

The same estimator as the compiled kernels (``csrc/edge/shadow_kernel.h``) for the same seed, by
brute force: shadow rays and the secondary samples' receivers test every face (no light-frame
cells), visibility from the camera is the dense z-buffer, and autograd gives the gradient:

* the shading of a point is ``ambient + V * directional``, V its visibility toward the light
  (detached: piecewise constant), so autograd of the area samples gives the interior term;
* the primary boundary term is :func:`renderers.reference.edge.edge_rasterize_reference` with this
  shading;
* the secondary boundary term is a zero-valued surrogate: sample k adds to its pixel
  ``(L_+ - L_-) * c_k * (beta_k(theta) - detach(beta_k))`` with ``c_k`` the detached weight of the
  kernels and ``beta_k = ((v1 - v0) x w) . (y - v0)``, ``y = sum_k wp_k(x) P_k`` the receiver point at
  the sample's fixed screen position, so autograd's gradient of beta is the kernels' record.

For small scenes and images only.
"""

from __future__ import annotations

import math

import torch

from ..random import random_uniform
from ..topology import soup_edge_table
from .edge import _shade, edge_rasterize_reference, pixel_index
from .nmr import _drawable, _edge_functions, _perspective, _signed_area

__all__ = ["edge_shadow_rasterize_reference", "light_basis", "light_silhouettes", "shadow_lit_reference",
           "shadow_samples_reference"]

STREAM_SHADOW = 4  # kStreamShadow of csrc/edge/shadow_kernel.h


def light_basis(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``u, v (3,)`` completing the unit light direction ``w (3,)`` to an orthonormal frame: ``u =
    normalize(w x a)`` with ``a`` the axis of w's smallest component (the first on ties), ``v = w x u``."""
    ax, ay, az = (abs(float(c)) for c in w)
    axis = 0 if ax <= ay and ax <= az else 1 if ay <= az else 2
    a = torch.zeros(3, dtype=w.dtype)
    a[axis] = 1.0
    u = torch.linalg.cross(w, a)
    u = u / torch.sqrt((u * u).sum())
    return u, torch.linalg.cross(w, u)


class _LightFrame:
    """One image's light frame: light-frame triangles of its faces ``world (F, 3, 3)`` (detached)."""

    def __init__(self, world: torch.Tensor, w: torch.Tensor, bias: float) -> None:
        self.w = w
        self.u, self.v = light_basis(w)
        basis = torch.stack((self.u, self.v, w), 0)  # (3, 3)
        coords = world @ basis.T  # (F, 3 corners, 3)
        self.x, self.y, self.h = coords[..., 0], coords[..., 1], coords[..., 2]
        finite = torch.isfinite(world).flatten(1).all(1)
        if finite.any():
            lo = coords[finite].reshape(-1, 3).amin(0)
            hi = coords[finite].reshape(-1, 3).amax(0)
            side = max(float(hi[0] - lo[0]), float(hi[1] - lo[1]))
            extent = max(side, float(hi[2] - lo[2]))
        else:
            extent = 0.0
        self.bias = bias * extent
        self.area = _signed_area(self.x, self.y)
        self.valid = finite & (self.area != 0) & torch.isfinite(self.area)

    def project(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return points @ self.u, points @ self.v, points @ self.w

    def covers(self, px: torch.Tensor, py: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``inside (P, F)`` (edges included) and the light-frame barycentrics ``(P, F, 3)``."""
        x, y = self.x[None], self.y[None]  # (1, F, 3)
        e = _edge_functions(x, y, px[:, None], py[:, None])  # (P, F, 3)
        area = self.area[None, :, None]
        inside = torch.where(area > 0, e >= 0, e <= 0).all(-1) & self.valid[None]
        in_box = ((px[:, None] >= x.amin(-1)) & (px[:, None] <= x.amax(-1)) & (py[:, None] >= y.amin(-1))
                  & (py[:, None] <= y.amax(-1)))
        return inside & in_box, e / area

    def heights(self, lam: torch.Tensor) -> torch.Tensor:
        return (lam * self.h[None]).sum(-1)


def shadow_lit_reference(world: torch.Tensor, w: torch.Tensor, points: torch.Tensor, faces: torch.Tensor,
                         bias: float) -> torch.Tensor:
    """Visibility ``(P,)`` bool toward the light of world ``points (P, 3)`` lying on ``faces (P,)`` of one
    image's ``world (F, 3, 3)``, with unit light direction ``w (3,)`` and relative ``bias``."""
    frame = _LightFrame(world.detach(), w.detach(), bias)
    px, py, ph = frame.project(points.detach())
    inside, lam = frame.covers(px, py)
    others = torch.arange(world.shape[0])[None] != faces[:, None]
    blocked = inside & others & (frame.heights(lam) > ph[:, None] + frame.bias)
    return ~blocked.any(1)


def _shader(fv, ambient, directional, world, w, kind, near, far, double_sided, background, bias):
    """``shade(x, y) -> (rgba (P, 4), nearest face (P,))`` of one image: ambient + V * directional."""

    def shade(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rgba, best = _shade(fv, ambient, kind, x, y, near, far, double_sided, background)
        part, _ = _shade(fv, directional, kind, x, y, near, far, double_sided, background)
        with torch.no_grad():
            points, _ = _shade(fv.detach(), world.detach(), "vertex", x, y, near, far, double_sided, (0.0, 0.0, 0.0))
            hit = best >= 0
            lit = shadow_lit_reference(world[0], w, points[:, :3], best, bias) & hit
        shadowed = part[:, :3] * lit[:, None].to(part.dtype)
        return torch.cat((rgba[:, :3] + shadowed, rgba[:, 3:]), 1), best

    return shade


def light_silhouettes(world: torch.Tensor, w: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """``(E,)`` bool: the edges of one image's ``world (F, 3, 3)`` that are silhouettes seen from the
    light ``w (3,)``: border edges and edges whose two faces face opposite ways relative to w."""
    edges = edges.long()
    fa, fb = edges[:, 0], edges[:, 3]
    normals = torch.linalg.cross(world[:, 1] - world[:, 0], world[:, 2] - world[:, 0])
    facing = (normals @ w) > 0
    return (fa >= 0) & ((fb < 0) | (facing[fa.clamp(min=0)] != facing[fb.clamp(min=0)]))


def _light_silhouette_lengths(world: torch.Tensor, w: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Light-frame lengths ``(E,)`` of the light-silhouette edges of one image (0 for the others)."""
    fa = edges[:, 0]
    silhouette = light_silhouettes(world, w, edges)
    a = world[fa.clamp(min=0)]
    e = a[torch.arange(len(edges)), edges[:, 2].clamp(min=0)] - a[torch.arange(len(edges)), edges[:, 1].clamp(min=0)]
    m = torch.linalg.cross(e, w.expand_as(e))
    length = torch.sqrt((m * m).sum(-1))
    return torch.where(silhouette & (length > 0) & torch.isfinite(length), length, torch.zeros_like(length))


def shadow_samples_reference(
    image: int, face_vertices: torch.Tensor, world: torch.Tensor, w: torch.Tensor, edges: torch.Tensor,
    samples: int, seed: int, bias: float, double_sided: bool,
) -> dict[str, torch.Tensor] | None:
    """One image's kept secondary samples (detached), in sample order: ``edge, receiver (K,)``,
    screen point ``x, y (K,)``, ``normal (K, 2)`` (unit grad_x beta) and the weight without the
    adjoint and the shading difference, ``scale (K,)`` = (L / N) |dx/dt| / (l_e |grad_x beta| A_pix).
    ``face_vertices (1, F, 3, 3)`` screen, ``world (F, 3, 3)``, ``w (3,)``, ``edges (E, 6)``."""
    fv, world, w = face_vertices[0].detach(), world.detach(), w.detach()
    edges = edges.long()
    lengths = _light_silhouette_lengths(world, w, edges)
    ends = torch.cumsum(lengths, 0)
    if samples == 0 or len(edges) == 0 or not float(ends[-1]) > 0:
        return None
    total = ends[-1]
    dtype = world.dtype
    j = torch.arange(samples)
    u = random_uniform(seed, STREAM_SHADOW, j + (image << 32), dtype)
    sigma = (j.to(dtype) + u) * total / samples
    e = torch.searchsorted(ends, sigma, right=True)
    keep = e < len(edges)
    e, sigma = e[keep], sigma[keep]
    length = lengths[e]
    t = ((sigma - (ends[e] - length)) / length).clamp(0, 1)
    row = edges[e]
    a = world[row[:, 0]]
    index = torch.arange(len(e))
    v0 = a[index, row[:, 1]]
    edge_vec = a[index, row[:, 2]] - v0
    q = v0 + t[:, None] * edge_vec
    frame = _LightFrame(world, w, bias)
    qx, qy, qh = frame.project(q)
    inside, lam = frame.covers(qx, qy)
    faces = torch.arange(world.shape[0])[None]
    heights = frame.heights(lam)
    below = inside & (faces != row[:, 0:1]) & (faces != row[:, 3:4]) & (heights < qh[:, None] - frame.bias)
    _, g = torch.where(below, heights, torch.full_like(heights, -math.inf)).max(1)  # first on ties
    found = below.any(1)
    lam_g = lam[index, g]  # (K, 3)
    screen = fv[g]  # (K, 3, 3)
    gx, gy, gz = screen[..., 0], screen[..., 1], screen[..., 2]
    Z = (lam_g * gz).sum(-1)
    X = (lam_g * gz * gx).sum(-1) / Z
    Y = (lam_g * gz * gy).sum(-1) / Z
    drawable = _drawable(fv, double_sided)[g]
    # (visibility from the camera: the caller keeps a sample only if both its sides show g)
    ok = found & drawable & (Z > 0) & (X >= -1) & (X <= 1) & (Y >= -1) & (Y <= 1)
    area = _signed_area(gx, gy)
    edge_fn = _edge_functions(gx, gy, X, Y)
    wb = edge_fn / area[:, None]  # (K, 3) screen barycentrics
    inside_screen = torch.where(area[:, None] > 0, edge_fn >= 0, edge_fn <= 0).all(-1)
    ok &= inside_screen
    # grad_x beta = (grad N - beta grad D) / D, N = sum w_k beta_k / z_k, D = sum w_k / z_k
    P = world[g]
    m = torch.linalg.cross(edge_vec, w.expand_as(edge_vec))
    beta = ((P - v0[:, None]) * m[:, None]).sum(-1)  # (K, 3)
    nxt, prv = [1, 2, 0], [2, 0, 1]
    dwx = (gy[:, nxt] - gy[:, prv]) / area[:, None]
    dwy = (gx[:, prv] - gx[:, nxt]) / area[:, None]
    inv_z = 1.0 / gz
    n_val = (wb * beta * inv_z).sum(-1)
    d_val = (wb * inv_z).sum(-1)
    beta_x = n_val / d_val
    gbx = ((dwx * beta * inv_z).sum(-1) - beta_x * (dwx * inv_z).sum(-1)) / d_val
    gby = ((dwy * beta * inv_z).sum(-1) - beta_x * (dwy * inv_z).sum(-1)) / d_val
    glen = torch.sqrt(gbx * gbx + gby * gby)
    ok &= (glen > 0) & torch.isfinite(glen)
    # |dx/dt|: light-frame barycentrics of the receiver move with q
    lx, ly = frame.x[g], frame.y[g]
    dqx, dqy = edge_vec @ frame.u, edge_vec @ frame.v
    dl = ((ly[:, nxt] - ly[:, prv]) * dqx[:, None] + (lx[:, prv] - lx[:, nxt]) * dqy[:, None]) / frame.area[g][:, None]
    dz = (dl * gz).sum(-1)
    dx = ((dl * gz * gx).sum(-1) - X * dz) / Z
    dy = ((dl * gz * gy).sum(-1) - Y * dz) / Z
    speed = torch.sqrt(dx * dx + dy * dy)
    scale = (total / samples) * speed / length / glen  # A_pix is applied by the caller (it knows S)
    normal = torch.stack((gbx, gby), -1) / glen[:, None]
    return {"edge": e[ok], "receiver": g[ok], "x": X[ok], "y": Y[ok], "normal": normal[ok], "scale": scale[ok],
            "row": row[ok]}


def _beta(face_vertices: torch.Tensor, world: torch.Tensor, w: torch.Tensor, s: dict[str, torch.Tensor]) -> torch.Tensor:
    """``beta (K,)`` of the kept samples ``s`` as a differentiable function of the screen corners
    ``face_vertices (F, 3, 3)``, ``world (F, 3, 3)`` and ``w (3,)``, at the samples' fixed screen points."""
    row, g = s["row"], s["receiver"]
    index = torch.arange(len(g))
    a = world[row[:, 0]]
    v0, v1 = a[index, row[:, 1]], a[index, row[:, 2]]
    m = torch.linalg.cross(v1 - v0, w.expand_as(v0))
    screen = face_vertices[g]
    gx, gy = screen[..., 0], screen[..., 1]
    wb = _edge_functions(gx, gy, s["x"], s["y"]) / _signed_area(gx, gy)[:, None]
    wp, _ = _perspective(wb, screen[..., 2])
    y = (wp[..., None] * world[g]).sum(1)
    return (m * (y - v0)).sum(-1)


def edge_shadow_rasterize_reference(
    face_vertices: torch.Tensor,
    ambient: torch.Tensor,
    directional: torch.Tensor,
    world: torch.Tensor,
    light: torch.Tensor,
    image_size: int,
    kind: str = "surface",
    *,
    edges: torch.Tensor | None = None,
    samples_per_pixel: int = 4,
    edge_samples: int | None = None,
    shadow_samples: int | None = None,
    shadow_bias: float = 1e-5,
    seed: int = 0,
    offset: float = 1e-3,
    near: float = 0.1,
    far: float = 100.0,
    double_sided: bool = True,
    background=(0.0, 0.0, 0.0),
    secondary: bool = True,
) -> torch.Tensor:
    """The image ``(B, 4, S, S)`` of :func:`renderers.edge.edge_shadow_rasterize` for the same samples,
    autograd giving the same gradient estimate with respect to all five tensors.
    ``secondary=False`` leaves the secondary boundary term out (for measuring what it adds)."""
    batch, num_faces = face_vertices.shape[:2]
    size = image_size
    samples = size * size if shadow_samples is None else shadow_samples
    if edges is None:
        edges = soup_edge_table(num_faces)
    shaders = [
        _shader(face_vertices[b : b + 1], ambient[b : b + 1], directional[b : b + 1], world[b : b + 1], light[b].detach(),
                kind, near, far, double_sided, background, shadow_bias)
        for b in range(batch)
    ]
    image = edge_rasterize_reference(
        face_vertices, ambient, size, kind, edges=edges, samples_per_pixel=samples_per_pixel,
        edge_samples=edge_samples, seed=seed, offset=offset, near=near, far=far, double_sided=double_sided,
        background=background, shader=lambda b, x, y: shaders[b](x, y),
        candidate_colors=torch.cat((ambient, directional), -1).detach(),
        extra_candidates=lambda b, table: light_silhouettes(world[b].detach(), light[b].detach(), table),
    )
    if not secondary:
        return image
    delta = 2.0 * offset / size
    surrogates = []
    for b in range(batch):
        table = edges[b] if edges.dim() == 3 else edges
        s = shadow_samples_reference(b, face_vertices[b : b + 1], world[b], light[b], table, samples, seed,
                                     shadow_bias, double_sided)
        flat = torch.zeros(size * size, 4, dtype=face_vertices.dtype)
        if s is not None and len(s["receiver"]):
            with torch.no_grad():
                x, y, n = s["x"], s["y"], s["normal"]
                plus, face_plus = shaders[b](x + delta * n[:, 0], y + delta * n[:, 1])
                minus, face_minus = shaders[b](x - delta * n[:, 0], y - delta * n[:, 1])
                # both sides must show the receiver: its visibility, and where only one does, the
                # primary term samples that edge
                on_receiver = ((face_plus == s["receiver"]) & (face_minus == s["receiver"]))[:, None]
                plus, minus = plus * on_receiver, minus * on_receiver
            beta = _beta(face_vertices[b], world[b], light[b], s)
            weight = (s["scale"] * size * size / 4).detach()
            surrogate = (plus - minus).detach() * ((beta - beta.detach()) * weight)[:, None]
            flat = flat.index_add(0, pixel_index(x, y, size), surrogate)
        surrogates.append(flat.t().reshape(4, size, size))
    return image + torch.stack(surrogates)
