"""CUDA parity for NMR: the CUDA kernels equal the CPU kernels (values and gradients).

Skipped, and reported as skipped, where no GPU or no CUDA build is present. Without a GPU the
same launch sequences run emulated on the CPU, on the same scenes (test_nmr_emulated.py).
"""

from __future__ import annotations

import pytest
import torch

from renderers._ext import has_cuda
from renderers.nmr import hard_rasterize, rasterize_maps

from .conftest import assert_gpu_matches_cpu, forward_backward, random_screen_faces, random_textures

pytestmark = pytest.mark.skipif(
    not (torch.cuda.is_available() and has_cuda()), reason="needs a CUDA device and a CUDA build of renderers"
)


def _textures(faces, kind):
    if kind is None:
        return None
    if kind == "volume":
        gen = torch.Generator().manual_seed(2)
        return torch.rand(*faces.shape[:2], 8, 3, generator=gen, dtype=torch.float64).to(faces.dtype)
    return random_textures(faces, kind, res=2)


def parity_scene(kind, double_sided, dtype):
    """(faces, textures, upstream, options) of the parity tests (here and test_nmr_emulated.py)."""
    faces = random_screen_faces(batch=3, num_faces=80, dtype=dtype, seed=41, size=0.3)
    upstream = torch.randn(3, 4, 40, 40, dtype=dtype, generator=torch.Generator().manual_seed(3))
    return faces, _textures(faces, kind), upstream, dict(double_sided=double_sided, background=(0.2, 0.4, 0.6))


@pytest.mark.parametrize("kind", [None, "vertex", "surface", "volume"])
@pytest.mark.parametrize("double_sided", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu(kind, double_sided, dtype):
    faces, textures, upstream, options = parity_scene(kind, double_sided, dtype)
    cpu = forward_backward(hard_rasterize, faces, textures, upstream, kind, **options)
    gpu = forward_backward(hard_rasterize, faces.cuda(), None if textures is None else textures.cuda(),
                           upstream.cuda(), kind, **options)
    assert_gpu_matches_cpu(gpu, cpu, dtype, degenerate_faces=(1, 4))
    cpu_maps, gpu_maps = rasterize_maps(faces, 40), rasterize_maps(faces.cuda(), 40)
    assert torch.equal(gpu_maps.face_index.cpu(), cpu_maps.face_index)


def test_cuda_is_deterministic():
    faces = random_screen_faces(batch=2, num_faces=300, seed=43, size=0.2).cuda()
    textures = _textures(faces, "volume").cuda()
    upstream = torch.randn(2, 4, 64, 64, device="cuda")
    first = forward_backward(hard_rasterize, faces, textures, upstream, "volume")
    second = forward_backward(hard_rasterize, faces, textures, upstream, "volume")
    for a, b in zip(first, second):
        assert torch.equal(a, b)


def test_renderer_on_cuda_end_to_end():
    import trimesh

    import renderers

    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.3)
    vertices = torch.tensor(mesh.vertices, dtype=torch.float32)[None].expand(4, -1, -1).contiguous()
    faces = torch.tensor(mesh.faces)
    eye = renderers.points_from_angles(2.732, 30.0, -15.0 * torch.arange(4.0))
    renderer = renderers.create("nmr", image_size=64)
    cpu = renderer(vertices, faces, eye)
    gpu = renderer(vertices.cuda(), faces.cuda(), eye.cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-5)
