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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scene", ["triangle", "sphere"])
def test_cuda_shadows_match_cpu(scene, dtype):
    """Shadows: the image and the gradients of all five inputs (screen corners, both colour parts,
    world corners, light direction) equal the CPU's (1e-4 relative in float32, 1e-9 in float64)."""
    from renderers.edge import edge_shadow_rasterize

    from .shadow_scenes import forward_backward as shadow_forward_backward
    from .test_edge_shadows import SCENES

    inputs = SCENES[scene]()
    inputs = dict(inputs, tensors={k: v.detach().to(dtype) for k, v in inputs["tensors"].items()})
    batch = inputs["tensors"]["world"].shape[0]
    upstream = torch.randn(batch, 4, 32, 32, dtype=dtype, generator=torch.Generator().manual_seed(3))
    options = dict(seed=17, edge_samples=2000, shadow_samples=2000, background=(0.2, 0.4, 0.6))
    image, grads = shadow_forward_backward(edge_shadow_rasterize, inputs, upstream, **options)
    cuda_inputs = dict(inputs, tensors={k: v.cuda() for k, v in inputs["tensors"].items()},
                       edges=inputs["edges"].cuda())
    gpu_image, gpu_grads = shadow_forward_backward(edge_shadow_rasterize, cuda_inputs, upstream.cuda(), **options)
    tolerance = 1e-4 if dtype == torch.float32 else 1e-9
    torch.testing.assert_close(gpu_image.cpu(), image, rtol=0, atol=tolerance)
    for name, grad in grads.items():
        scale = max(1.0, float(grad.abs().max()))
        torch.testing.assert_close(gpu_grads[name].cpu(), grad, rtol=0, atol=tolerance * scale, msg=name)


def test_cuda_shadows_are_deterministic():
    from renderers.edge import edge_shadow_rasterize

    from .shadow_scenes import forward_backward as shadow_forward_backward
    from .test_edge_shadows import SCENES

    inputs = SCENES["sphere"]()
    inputs = dict(inputs, tensors={k: v.detach().float().cuda() for k, v in inputs["tensors"].items()},
                  edges=inputs["edges"].cuda())
    upstream = torch.randn(2, 4, 64, 64, device="cuda")
    first = shadow_forward_backward(edge_shadow_rasterize, inputs, upstream, seed=5)
    second = shadow_forward_backward(edge_shadow_rasterize, inputs, upstream, seed=5)
    assert torch.equal(first[0], second[0])
    for name in first[1]:
        assert torch.equal(first[1][name], second[1][name]), name
