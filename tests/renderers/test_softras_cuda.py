"""CUDA parity: the CUDA kernels equal the CPU kernels (values and gradients).

Skipped, and reported as skipped, where no GPU or no CUDA build is present. Without a GPU the
same launch sequence runs emulated on the CPU, on the same scenes (test_softras_emulated.py).
"""

from __future__ import annotations

import itertools

import pytest
import torch

import renderers
from renderers._ext import has_cuda
from renderers.softras import SoftRasOptions, soft_rasterize

from .conftest import assert_gpu_matches_cpu, random_screen_faces, random_textures

pytestmark = pytest.mark.skipif(
    not (torch.cuda.is_available() and has_cuda()), reason="needs a CUDA device and a CUDA build of renderers"
)

MODES = list(itertools.product(("euclidean", "barycentric"), ("prod", "sum", "hard"), ("softmax", "hard", None)))


def _forward_backward(faces, textures, options, kind, upstream, **kwargs):
    """``(image, d faces, d textures or None)``. CPU tensors run the scalar CPU path (lane width 1),
    the one with the CUDA kernels' operations: the vector lanes fuse multiply-adds and use a
    polynomial exp, which moves float32 barycentric silhouettes by more than the parity tolerance;
    they are verified against the float64 reference in test_softras_lanes.py."""
    faces = faces.clone().requires_grad_(True)
    textures = None if textures is None else textures.clone().requires_grad_(True)
    with renderers.simd.lane_width(1):
        image = soft_rasterize(faces, textures, options, kind, **kwargs)
        (image * upstream).sum().backward()
    return image.detach(), faces.grad, None if textures is None else textures.grad


@pytest.mark.parametrize(("dist_func", "aggr_alpha", "aggr_rgb"), MODES)
@pytest.mark.parametrize("kind", ["surface", "vertex"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu(dist_func, aggr_alpha, aggr_rgb, kind, dtype):
    faces = random_screen_faces(batch=3, num_faces=80, dtype=dtype, seed=41, size=0.3)
    textures = None if aggr_rgb is None else random_textures(faces, kind, res=2)
    options = SoftRasOptions(image_size=40, sigma=1e-4, gamma=1e-3, dist_func=dist_func, aggr_alpha=aggr_alpha,
                             aggr_rgb=aggr_rgb or "softmax", double_sided=aggr_alpha != "sum")
    upstream = torch.randn(3, 4, 40, 40, dtype=dtype, generator=torch.Generator().manual_seed(3))
    cpu = _forward_backward(faces, textures, options, kind, upstream)
    gpu = _forward_backward(faces.cuda(), None if textures is None else textures.cuda(), options, kind, upstream.cuda())
    assert_gpu_matches_cpu(gpu, cpu, dtype, degenerate_faces=(1, 4))


def test_cuda_is_deterministic():
    faces = random_screen_faces(batch=2, num_faces=300, seed=43, size=0.2).cuda()
    textures = random_textures(faces, "surface", res=2).cuda()
    options = SoftRasOptions(image_size=64, sigma=1e-4, gamma=1e-3)
    upstream = torch.randn(2, 4, 64, 64, device="cuda")
    first = _forward_backward(faces, textures, options, "surface", upstream)
    second = _forward_backward(faces, textures, options, "surface", upstream)
    for a, b in zip(first, second):
        assert torch.equal(a, b)


def test_renderer_on_cuda_end_to_end():
    import trimesh

    import renderers

    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.3)
    vertices = torch.tensor(mesh.vertices, dtype=torch.float32)[None].expand(4, -1, -1).contiguous()
    faces = torch.tensor(mesh.faces)
    eye = renderers.points_from_angles(2.732, 30.0, -15.0 * torch.arange(4.0))
    renderer = renderers.create("softras", image_size=64, sigma=1e-4)
    cpu = renderer(vertices, faces, eye)
    gpu = renderer(vertices.cuda(), faces.cuda(), eye.cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-5)
