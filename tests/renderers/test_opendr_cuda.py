"""CUDA parity for OpenDR: the CUDA kernels equal the CPU kernels (values and gradients).

Skipped, and reported as skipped, where no GPU or no CUDA build is present. Without a GPU the
same launch sequences run emulated on the CPU (test_opendr_backward.py,
test_emulated_cuda_launches_equal_the_cpu_path).
"""

from __future__ import annotations

import pytest
import torch

from renderers._ext import has_cuda
from renderers.opendr import opendr_maps, opendr_rasterize

from .conftest import assert_gpu_matches_cpu, forward_backward, random_screen_faces, random_textures
from .test_opendr_backward import _mesh_scene

pytestmark = pytest.mark.skipif(
    not (torch.cuda.is_available() and has_cuda()), reason="needs a CUDA device and a CUDA build of renderers"
)


@pytest.mark.parametrize("kind", [None, "vertex", "surface"])
@pytest.mark.parametrize("double_sided", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mesh", [False, True])
def test_cuda_matches_cpu(kind, double_sided, dtype, mesh):
    if mesh:
        faces, edges = _mesh_scene("occluded", batch=3)
        faces = faces.to(dtype)
    else:
        faces, edges = random_screen_faces(batch=3, num_faces=80, dtype=dtype, seed=41, size=0.3), None
    textures = None if kind is None else random_textures(faces, kind, res=2)
    upstream = torch.randn(3, 4, 40, 40, dtype=dtype, generator=torch.Generator().manual_seed(3))
    options = dict(double_sided=double_sided, background=(0.2, 0.4, 0.6))
    cpu = forward_backward(opendr_rasterize, faces, textures, upstream, kind, edges=edges, **options)
    gpu = forward_backward(opendr_rasterize, faces.cuda(), None if textures is None else textures.cuda(),
                           upstream.cuda(), kind, edges=None if edges is None else edges.cuda(), **options)
    assert_gpu_matches_cpu(gpu, cpu, dtype)
    cpu_maps = opendr_maps(faces, 40, edges=edges)
    gpu_maps = opendr_maps(faces.cuda(), 40, edges=None if edges is None else edges.cuda())
    assert torch.equal(gpu_maps.mask.cpu(), cpu_maps.mask) and torch.equal(gpu_maps.face_index.cpu(), cpu_maps.face_index)


def test_cuda_is_deterministic_and_renders_end_to_end():
    import trimesh

    import renderers

    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.3)
    vertices = torch.tensor(mesh.vertices, dtype=torch.float32)[None].expand(4, -1, -1).contiguous()
    faces = torch.tensor(mesh.faces)
    eye = renderers.points_from_angles(2.732, 30.0, -15.0 * torch.arange(4.0))
    renderer = renderers.create("opendr", image_size=64)
    cpu = renderer(vertices, faces, eye)
    results = []
    for _ in range(2):
        v = vertices.cuda().requires_grad_(True)
        image = renderer(v, faces.cuda(), eye.cuda())
        (image * torch.linspace(-1, 1, image.numel(), device="cuda").view_as(image)).sum().backward()
        results.append((image.detach(), v.grad))
    torch.testing.assert_close(results[0][0].cpu(), cpu, rtol=1e-4, atol=1e-5)
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
