"""Shared helpers for the renderer tests: random screen-space meshes and option sets."""

from __future__ import annotations

import pytest
import torch

from renderers.softras import SoftRasOptions

REFERENCE_KEYS = (
    "sigma",
    "gamma",
    "dist_eps",
    "near",
    "far",
    "eps",
    "dist_func",
    "aggr_alpha",
    "aggr_rgb",
    "double_sided",
    "background",
)


def reference_kwargs(options: SoftRasOptions) -> dict:
    """Keyword arguments of renderers.reference.soft_rasterize_reference for these options."""
    return {key: getattr(options, key) for key in REFERENCE_KEYS} | {"image_size": options.image_size}


def random_screen_faces(
    batch: int = 2,
    num_faces: int = 40,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
    spread: float = 1.3,
    size: float = 0.5,
    special: bool = True,
) -> torch.Tensor:
    """Screen-space faces ``(B, F, 3, 3)``: overlapping (occluding) triangles of random depth,
    some partly outside the image, and, with ``special``, tiny, degenerate (collinear and
    coincident) and off-screen faces."""
    gen = torch.Generator().manual_seed(seed)
    centres = (torch.rand(batch, num_faces, 1, 2, generator=gen, dtype=torch.float64) * 2 - 1) * spread
    offsets = (torch.rand(batch, num_faces, 3, 2, generator=gen, dtype=torch.float64) * 2 - 1) * size
    xy = centres + offsets
    z = 2.0 + 3.0 * torch.rand(batch, num_faces, 3, 1, generator=gen, dtype=torch.float64)
    faces = torch.cat((xy, z), dim=-1)
    if special and num_faces >= 6:
        faces[:, 0, :, :2] = faces[:, 0, :1, :2] + 1e-3 * offsets[:, 0]  # tiny
        faces[:, 1, 2, :2] = 0.5 * (faces[:, 1, 0, :2] + faces[:, 1, 1, :2])  # collinear
        faces[:, 2, 1:, :2] = faces[:, 2, :1, :2]  # all three corners coincide
        faces[:, 3, :, 0] += 3.0  # entirely off-screen
        faces[:, 4, 1, :2] = faces[:, 4, 0, :2]  # two coincident corners
    return faces.to(dtype)


def random_textures(faces: torch.Tensor, kind: str, res: int = 2, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    batch, num_faces = faces.shape[:2]
    texels = res * res if kind == "surface" else 3
    return torch.rand(batch, num_faces, texels, 3, generator=gen, dtype=torch.float64).to(faces.dtype)


def forward_backward(fn, faces, textures, upstream, kind, **options):
    """``fn(faces, textures, S, kind, **options)`` (a screen-space rasterizer or its reference) and
    its gradients for ``sum(image * upstream)``: ``(image, d faces, d textures or None)``."""
    faces = faces.clone().requires_grad_(True)
    textures = None if textures is None else textures.clone().requires_grad_(True)
    image = fn(faces, textures, upstream.shape[-1], kind or "surface", **options)
    (image * upstream).sum().backward()
    return image.detach(), faces.grad, None if textures is None else textures.grad


def assert_deterministic_across_threads(run) -> None:
    """``run()`` (returning a tuple of tensors or None) gives bit-identical results with 1 and 2
    threads, twice each."""
    results = []
    for threads in (1, 2, 1, 2):
        torch.set_num_threads(threads)
        results.append(run())
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert (a is None and b is None) or torch.equal(a, b)


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def assert_gpu_matches_cpu(gpu: tuple, cpu: tuple, dtype: torch.dtype,
                           degenerate_faces: tuple[int, ...] = ()) -> None:
    """``(image, d faces, d textures or None)`` from a CUDA run equal the CPU run's: 1e-4 relative in
    float32, 1e-9 in float64; the face gradients relative to their largest value.

    ``degenerate_faces``: faces whose corners coincide or are collinear (``random_screen_faces``'
    faces 1 and 4). How their gradient splits between such corners is ill-conditioned (the
    direction of a zero-length edge is undefined), so float32 rounding in a different order of
    operations moves it between them by up to ~20 % of the largest gradient (measured, SoftRas
    euclidean, face 4: (-0.55, 15.33) against (18.36, -3.59) on the coincident pair, the float64
    reference (-4.03, 18.80)). In float32 they are compared by their sum over corners, which is
    well conditioned; float64 still compares every corner."""
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(gpu[0].cpu(), cpu[0], **tol)
    scale = float(cpu[1].abs().max()) or 1.0
    grad_gpu, grad_cpu = gpu[1].cpu() / scale, cpu[1] / scale
    if dtype == torch.float32 and degenerate_faces:
        ill = torch.zeros(grad_cpu.shape[1], dtype=torch.bool)
        ill[list(degenerate_faces)] = True
        torch.testing.assert_close(grad_gpu[:, ill].sum(2), grad_cpu[:, ill].sum(2), **tol)
        grad_gpu, grad_cpu = grad_gpu[:, ~ill], grad_cpu[:, ~ill]
    torch.testing.assert_close(grad_gpu, grad_cpu, **tol)
    if cpu[2] is not None:
        torch.testing.assert_close(gpu[2].cpu(), cpu[2], **tol)