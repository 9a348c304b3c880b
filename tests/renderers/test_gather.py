"""The compiled per-face gathers (renderers.gather) against their plain PyTorch references:
``gather_face_vertices`` and ``gather_face_vertices(project(...))``."""

from __future__ import annotations

import pytest
import torch

import renderers
from renderers._ext import has_cuda
from renderers.camera import project
from renderers.gather import gather_faces, project_faces
from renderers.lighting import gather_face_vertices


def _mesh(batch: int = 3, num_vertices: int = 12, num_faces: int = 20, dtype=torch.float64, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    vertices = (torch.rand(batch, num_vertices, 3, generator=gen, dtype=torch.float64) - 0.5).to(dtype)
    faces = torch.randint(0, num_vertices, (num_faces, 3), generator=gen)
    eye = renderers.points_from_angles(2.732, 30.0, torch.arange(batch) * -50.0).to(dtype)
    return vertices, faces, eye


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("channels", [1, 3, 5])
def test_gather_equals_reference(dtype, channels):
    vertices, faces, _ = _mesh(dtype=dtype)
    values = torch.randn(3, vertices.shape[1], channels, dtype=dtype, generator=torch.Generator().manual_seed(1))
    batched = faces[None].expand(3, -1, -1)
    expected = gather_face_vertices(values, batched)
    assert torch.equal(gather_faces(values, faces), expected)
    assert torch.equal(gather_faces(values, batched), expected)
    assert torch.equal(gather_faces(values, batched.contiguous()), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_project_faces_equals_reference(dtype):
    vertices, faces, eye = _mesh(dtype=dtype)
    expected = gather_face_vertices(project(vertices, eye, 15.0), faces[None].expand(3, -1, -1))
    torch.testing.assert_close(project_faces(vertices, eye, faces, 15.0), expected, rtol=0, atol=0)


def test_gradients_equal_reference_with_per_image_faces():
    vertices, _, eye = _mesh()
    gen = torch.Generator().manual_seed(5)
    faces = torch.randint(0, vertices.shape[1], (3, 20, 3), generator=gen)  # a different mesh per image
    upstream = torch.randn(3, 20, 3, 3, dtype=torch.float64, generator=gen)
    grads = []
    for fn in (lambda v, e: project_faces(v, e, faces, 20.0),
               lambda v, e: gather_face_vertices(project(v, e, 20.0), faces)):
        v, e = vertices.clone().requires_grad_(), eye.clone().requires_grad_()
        (fn(v, e) * upstream).sum().backward()
        grads.append((v.grad, e.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-12, atol=1e-12)


def test_gradcheck():
    vertices, faces, eye = _mesh(batch=2, num_vertices=6, num_faces=5)
    values = torch.randn(2, 6, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: gather_faces(x, faces), (values,))
    v, e = vertices.clone().requires_grad_(), eye.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: project_faces(a, b, faces, 15.0), (v, e))


def test_backward_is_deterministic_across_thread_counts():
    vertices, faces, eye = _mesh(batch=4, num_vertices=200, num_faces=1500, dtype=torch.float32)
    upstream = torch.randn(4, 1500, 3, 3, generator=torch.Generator().manual_seed(2))
    results = []
    for threads in (1, 2, 1, 2):
        torch.set_num_threads(threads)
        v = vertices.clone().requires_grad_()
        (project_faces(v, eye, faces) * upstream).sum().backward()
        results.append(v.grad)
    assert all(torch.equal(results[0], r) for r in results[1:])


def test_empty_inputs():
    values = torch.randn(2, 4, 3)
    assert gather_faces(values, torch.zeros(0, 3, dtype=torch.int64)).shape == (2, 0, 3, 3)
    assert gather_faces(torch.randn(0, 4, 3), torch.zeros(5, 3, dtype=torch.int64)).shape == (0, 5, 3, 3)


@pytest.mark.parametrize(
    ("values", "faces", "message"),
    [
        (torch.randn(2, 4), torch.zeros(3, 3, dtype=torch.int64), "values must have shape"),
        (torch.randn(2, 4, 3).int(), torch.zeros(3, 3, dtype=torch.int64), "float32 or float64"),
        (torch.randn(2, 4, 3), torch.zeros(3, 3, dtype=torch.int32), "faces must be int64"),
        (torch.randn(2, 4, 3), torch.zeros(3, 2, dtype=torch.int64), "faces must have shape"),
        (torch.randn(2, 4, 3), torch.zeros(3, 3, 3, dtype=torch.int64), "faces must have shape"),
        (torch.randn(2, 4, 3), torch.full((3, 3), 4, dtype=torch.int64), r"face indices must be in \[0, 3\]"),
        (torch.randn(2, 4, 3), torch.full((3, 3), -1, dtype=torch.int64), "face indices must be in"),
    ],
)
def test_bad_input_raises_clear_errors(values, faces, message):
    with pytest.raises(RuntimeError, match=message):
        gather_faces(values, faces)


def test_projection_needs_points():
    with pytest.raises(RuntimeError, match="projected values must be points"):
        renderers._ext.extension().gather_faces_forward(torch.randn(1, 4, 2), torch.zeros(1, 3, dtype=torch.int64), 0.3)


@pytest.mark.skipif(not (torch.cuda.is_available() and has_cuda()), reason="needs a CUDA device and a CUDA build of renderers")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu(dtype):
    vertices, faces, eye = _mesh(batch=3, num_vertices=100, num_faces=400, dtype=dtype)
    upstream = torch.randn(3, 400, 3, 3, dtype=dtype, generator=torch.Generator().manual_seed(4))
    outputs = []
    for device in ("cpu", "cuda"):
        v = vertices.to(device).requires_grad_()
        out = project_faces(v, eye.to(device), faces.to(device))
        (out * upstream.to(device)).sum().backward()
        outputs.append((out.detach().cpu(), v.grad.cpu()))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(outputs[1][0], outputs[0][0], **tol)
    torch.testing.assert_close(outputs[1][1], outputs[0][1], **tol)


def _gather_grads(values, faces, project, emulate_cuda):
    values = values.clone().requires_grad_(True)
    upstream = torch.randn(values.shape[0], faces.shape[-2], 3, values.shape[-1], dtype=values.dtype,
                           generator=torch.Generator().manual_seed(5))
    if project:
        eye = renderers.points_from_angles(2.732, 30.0, torch.arange(values.shape[0]) * -50.0).to(values.dtype)
        out = project_faces(values, eye, faces, 15.0, emulate_cuda=emulate_cuda)
    else:
        out = gather_faces(values, faces, emulate_cuda=emulate_cuda)
    (out * upstream).sum().backward()
    return out.detach(), values.grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("channels", [1, 3, 20])  # 20: more channels than the former CUDA scratch (16)
@pytest.mark.parametrize("per_image_faces", [False, True])
def test_emulated_cuda_launches_equal_the_cpu_path_bit_for_bit(dtype, channels, per_image_faces):
    """The CUDA launch sequences (one thread per corner forward; one per vertex over its incident
    corners backward, no atomics) emulated on the CPU equal the CPU path exactly: the backward adds
    each vertex's corners in the same ascending order, so the CUDA gradients are deterministic."""
    vertices, faces, _ = _mesh(num_vertices=30, num_faces=60, dtype=dtype)
    gen = torch.Generator().manual_seed(2)
    faces = torch.stack([torch.randint(0, 30, (60, 3), generator=gen) for _ in range(3)]) if per_image_faces else faces
    faces[..., 0, :] = 7  # a vertex used three times by one face
    for project, values in ((False, torch.randn(3, 30, channels, dtype=dtype, generator=gen)), (True, vertices)):
        if project and channels != 3:
            continue
        cpu = _gather_grads(values, faces, project, emulate_cuda=False)
        emulated = _gather_grads(values, faces, project, emulate_cuda=True)
        assert torch.equal(emulated[0], cpu[0]) and torch.equal(emulated[1], cpu[1])


def test_scatter_add_corners_sums_into_vertices_and_is_differentiable():
    from renderers.gather import scatter_add_corners

    gen = torch.Generator().manual_seed(4)
    faces = torch.randint(0, 10, (25, 3), generator=gen)
    corner_values = torch.randn(2, 25, 3, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    summed = scatter_add_corners(corner_values, faces, 10)
    expected = torch.zeros(2, 10, 4, dtype=torch.float64).index_add_(1, faces.reshape(-1),
                                                                      corner_values.detach().reshape(2, -1, 4))
    torch.testing.assert_close(summed, expected, rtol=1e-15, atol=1e-15)
    assert torch.autograd.gradcheck(lambda c: scatter_add_corners(c, faces, 10), (corner_values,))
