"""CUDA parity for edge sampling: the CUDA kernels draw the same samples (the counter-based
generator) and give the CPU's values and gradients, deterministically.

Skipped, and reported as skipped, where no GPU or no CUDA build is present. Without a GPU the
same launch sequences run emulated on the CPU (test_edge_forward.py / test_edge_backward.py,
``emulate_cuda=True``).
"""

from __future__ import annotations

import pytest
import torch

from renderers._ext import has_cuda
from renderers.edge import edge_rasterize

from .conftest import assert_gpu_matches_cpu, forward_backward, random_screen_faces, random_textures
from .edge_scenes import sphere_faces

pytestmark = pytest.mark.skipif(
    not (torch.cuda.is_available() and has_cuda()), reason="needs a CUDA device and a CUDA build of renderers"
)


@pytest.mark.parametrize("kind", [None, "vertex", "surface"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mesh", [False, True])
def test_cuda_matches_cpu(kind, dtype, mesh):
    if mesh:
        faces, edges, _ = sphere_faces(2, batch=3)
        faces = faces.to(dtype)
    else:
        faces, edges = random_screen_faces(batch=3, num_faces=80, dtype=dtype, seed=41, size=0.3), None
    textures = None if kind is None else random_textures(faces, kind, res=1)
    upstream = torch.randn(3, 4, 40, 40, dtype=dtype, generator=torch.Generator().manual_seed(3))
    options = dict(seed=17, edge_samples=2000, background=(0.2, 0.4, 0.6))
    cpu = forward_backward(edge_rasterize, faces, textures, upstream, kind, edges=edges, **options)
    gpu = forward_backward(edge_rasterize, faces.cuda(), None if textures is None else textures.cuda(),
                           upstream.cuda(), kind, edges=None if edges is None else edges.cuda(), **options)
    assert_gpu_matches_cpu(gpu, cpu, dtype)


def test_cuda_is_deterministic():
    faces, edges, _ = sphere_faces(2, batch=4)
    faces, edges = faces.float().cuda(), edges.cuda()
    upstream = torch.randn(4, 4, 64, 64, device="cuda")

    def run():
        x = faces.clone().requires_grad_(True)
        (edge_rasterize(x, None, 64, edges=edges, seed=3) * upstream).sum().backward()
        return x.grad

    first = run()
    assert torch.equal(first, run())
