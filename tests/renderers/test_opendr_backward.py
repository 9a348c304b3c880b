"""OpenDR gradients: the compiled backward against the reference, the image-difference rule,
the truth it approximates (brightness constancy, finite differences of a supersampled image),
its one-pixel reach, textures, determinism and the emulated CUDA launches."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from renderers.gather import project_faces
from renderers.nmr import hard_rasterize
from renderers.opendr import opendr_maps, opendr_rasterize
from renderers.reference import image_gradient_reference, opendr_rasterize_reference
from renderers.scenes import box_filtered, random_triangles
from renderers.topology import edge_table

from .conftest import assert_deterministic_across_threads, forward_backward, random_screen_faces, random_textures
from .test_opendr_forward import scene


def _textures(faces: torch.Tensor, kind: str | None, seed: int = 4) -> torch.Tensor | None:
    if kind is None:
        return None
    if kind == "volume":
        gen = torch.Generator().manual_seed(seed)
        return torch.rand(*faces.shape[:2], 27, 3, generator=gen, dtype=torch.float64).to(faces.dtype)
    return random_textures(faces, kind, res=3, seed=seed)


def _mesh_scene(name: str, batch: int = 2):
    """Screen-space faces of a world mesh seen from ``batch`` cameras, and its edge table."""
    parts = [scene(name, azimuth=20.0 + 97.0 * b, elevation=30.0 - 25.0 * b) for b in range(batch)]
    vertices, faces = parts[0][0], parts[0][1]
    eye = torch.stack([p[2] for p in parts])
    screen = project_faces(vertices[None].expand(batch, -1, -1), eye, faces, 15.0)
    return screen, edge_table(faces)


def _assert_same_gradients(ours, reference, textured: bool):
    torch.testing.assert_close(ours[0], reference[0], rtol=0, atol=1e-12)
    scale = float(reference[1].abs().max())
    assert scale > 0
    torch.testing.assert_close(ours[1] / scale, reference[1] / scale, rtol=0, atol=1e-10)
    assert (ours[1][..., 2] == 0).all()  # OpenDR: no depth gradient
    if textured:
        torch.testing.assert_close(ours[2], reference[2], rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", [None, "vertex", "surface", "volume"])
@pytest.mark.parametrize("double_sided", [True, False])
@pytest.mark.parametrize("overdraw", [True, False])
def test_backward_matches_reference_on_unconnected_faces(kind, double_sided, overdraw):
    faces = random_screen_faces(batch=2, num_faces=30, dtype=torch.float64, seed=23)  # occlusion, off-screen parts
    textures = _textures(faces, kind)
    upstream = torch.randn(2, 4, 20, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    options = dict(double_sided=double_sided, overdraw=overdraw, background=(0.1, 0.5, 0.9))
    ours = forward_backward(opendr_rasterize, faces, textures, upstream, kind, **options)
    reference = forward_backward(opendr_rasterize_reference, faces, textures, upstream, kind, **options)
    _assert_same_gradients(ours, reference, textures is not None)


@pytest.mark.parametrize("name", ["sphere", "bowl", "occluded"])
@pytest.mark.parametrize("kind", [None, "vertex"])
@pytest.mark.parametrize("double_sided", [True, False])
def test_backward_matches_reference_on_meshes(name, kind, double_sided):
    screen, edges = _mesh_scene(name)
    textures = _textures(screen, kind)
    upstream = torch.randn(2, 4, 24, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    options = dict(double_sided=double_sided, edges=edges)
    ours = forward_backward(opendr_rasterize, screen, textures, upstream, kind, **options)
    reference = forward_backward(opendr_rasterize_reference, screen, textures, upstream, kind, **options)
    _assert_same_gradients(ours, reference, textures is not None)
    assert opendr_maps(screen, 24, edges=edges).mask.sum() > 20


def test_per_image_edge_tables():
    screen, _ = _mesh_scene("bowl", batch=2)
    faces = scene("bowl")[1]
    per_image = edge_table(torch.stack((faces, faces)))  # (B, E, 6), padded
    upstream = torch.randn(2, 4, 20, 20, dtype=torch.float64)
    shared = forward_backward(opendr_rasterize, screen, None, upstream, None, edges=edge_table(faces))
    batched = forward_backward(opendr_rasterize, screen, None, upstream, None, edges=per_image)
    for a, b in zip(shared[:2], batched[:2]):
        assert torch.equal(a, b)


def test_float32_close_to_reference():
    screen, edges = _mesh_scene("occluded")
    textures = _textures(screen, "vertex")
    upstream = torch.randn(2, 4, 24, 24, dtype=torch.float64)
    ours = forward_backward(opendr_rasterize, screen.float(), textures.float(), upstream.float(), "vertex", edges=edges)
    reference = forward_backward(opendr_rasterize_reference, screen, textures, upstream, "vertex", edges=edges)
    mismatch = (ours[0].double() - reference[0]).abs().amax(dim=1) > 1e-4  # pixels decided differently
    assert mismatch.float().mean() < 0.01
    if not mismatch.any():
        scale = float(reference[1].abs().max())
        torch.testing.assert_close(ours[1].double() / scale, reference[1] / scale, rtol=0, atol=1e-4)


def test_image_difference_rule():
    """The rule of REFERENCE section 7 on one row with M at pixels 2 and 5 (x marks them). The
    compiled kernels equal this reference (the tests above), so this pins their rule too."""
    row = torch.tensor([0.0, 1.0, 3.0, 6.0, 10.0, 15.0, 21.0, 28.0, 36.0], dtype=torch.float64)
    mask = torch.zeros(1, 1, 9, dtype=torch.bool)
    mask[0, 0, [2, 5]] = True
    gx, gy = image_gradient_reference(row.view(1, 1, 1, 9), mask)
    expected = [
        1.0,                  # border, off M: the one-sided difference I[1] - I[0]
        1.0,                  # right neighbour in M: the left one-sided difference
        6.0 - 1.0,            # x, on M: undivided I[3] - I[1]
        4.0,                  # left neighbour in M: the right one-sided difference
        4.0,                  # right neighbour in M: the left one-sided difference
        21.0 - 10.0,          # x, on M: undivided
        7.0,                  # left neighbour in M: the right one-sided difference
        (8.0 + 7.0) / 2,      # both neighbours usable: the central difference
        8.0,                  # border, off M
    ]
    assert gx.flatten().tolist() == expected
    assert (gy == 0).all()  # one row: nothing to difference down the columns
    both = torch.zeros(1, 1, 3, dtype=torch.bool)
    both[0, 0, [0, 2]] = True  # an off-M pixel between two M pixels falls back to the undivided difference
    assert image_gradient_reference(torch.tensor([[[[1.0, 2.0, 5.0]]]]), both)[0].flatten().tolist() == [2.0, 4.0, 6.0]
    plain = image_gradient_reference(row.view(1, 1, 1, 9), torch.zeros(1, 1, 9, dtype=torch.bool))[0].flatten()
    torch.testing.assert_close(plain[1:-1], (row[2:] - row[:-2]) / 2)  # no overdraw: central differences


def test_brightness_constancy_is_exact_for_affine_colour_inside_a_face():
    """Inside a face parallel to the image plane with vertex colours (an affine colour field),
    moving a vertex moves the colour field, and the central differences of an affine field are
    exact: OpenDR's derivative there equals the true one, here central finite differences of the
    rendered colours (interior pixels keep their face, so they are smooth in the vertices)."""
    triangle = torch.tensor([[[[-0.9, -0.8, 2.0], [0.85, -0.7, 2.0], [-0.1, 0.9, 2.0]]]], dtype=torch.float64)
    colours = torch.tensor([[[[0.9, 0.1, 0.3], [0.2, 0.8, 0.5], [0.4, 0.3, 1.0]]]], dtype=torch.float64)
    size = 32
    inside = hard_rasterize(triangle, None, size)[0, 3] > 0
    for _ in range(3):  # keep pixels at least three pixels away from the edges (off M, unclipped)
        p = F.pad(inside[None, None].float(), (1, 1, 1, 1))[0, 0].bool()
        inside = inside & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    assert inside.sum() > 150
    upstream = torch.randn(1, 4, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(8)) * inside
    upstream[:, 3] = 0  # alpha is constant inside
    ours = forward_backward(opendr_rasterize, triangle, colours, upstream, "vertex")[1]
    step = 1e-6
    for k in range(3):
        for axis in range(2):
            h = torch.zeros_like(triangle)
            h[0, 0, k, axis] = step
            loss = lambda t: float((opendr_rasterize(t, colours, size, "vertex") * upstream).sum())  # noqa: E731
            truth = (loss(triangle + h) - loss(triangle - h)) / (2 * step)
            assert abs(float(ours[0, 0, k, axis]) - truth) < 1e-7 * (1 + abs(truth)), (k, axis)


def _supersampled(triangle: torch.Tensor, size: int) -> torch.Tensor:
    return box_filtered(triangle, None, size)[:, 3]


@pytest.mark.parametrize("axis", [0, 1])
def test_translation_gradient_against_finite_differences_of_a_supersampled_image(axis):
    """A triangle over a uniform background, the squared error against the same triangle shifted by
    1 to 3 pixels (box-filtered): OpenDR's gradient of the aliased loss has the sign of the central
    finite difference (step 1/4 pixel) of the box-filtered loss, and its size within 30 % (15 % for
    shifts of 2 pixels and more). What bounds the agreement: OpenDR differentiates an aliased image,
    whose loss is a staircase in the offset; over 12 random triangles and both axes the measured
    ratio OpenDR / truth lies in [0.78, 1.19] at 1 pixel and [0.89, 1.11] at 2 and 3 pixels (and in
    [0.5, 1.5] at half a pixel, where aliasing dominates, which is not asserted)."""
    size, step = 32, 0.25 * 2 / 32
    for triangle in random_triangles(6, seed=axis):
        for shift, tolerance in ((1.0, 0.3), (2.0, 0.15), (3.0, 0.15)):
            offset = torch.zeros(3, dtype=torch.float64)
            offset[axis] = shift * 2 / size
            target = _supersampled(triangle + offset, size)
            o = torch.zeros(3, dtype=torch.float64, requires_grad=True)
            ((opendr_rasterize(triangle + o, None, size)[:, 3] - target) ** 2).sum().backward()
            h = torch.zeros(3, dtype=torch.float64)
            h[axis] = step
            loss = lambda d: ((_supersampled(triangle + d, size) - target) ** 2).sum()  # noqa: E731
            truth = float((loss(h) - loss(-h)) / (2 * step))
            ratio = float(o.grad[axis]) / truth
            assert truth < 0 and 1 - tolerance <= ratio <= 1 + tolerance, (shift, ratio)


def test_gradient_vanishes_beyond_a_pixel_from_the_edge():
    """Kato et al.'s observation: a loss that wants a pixel covered gives OpenDR no gradient once
    the pixel is two pixels or more from the edge (NMR's gradient reaches it at any distance)."""
    size = 32
    square = torch.tensor([[[-0.5, -0.5, 2.0], [0.25, -0.5, 2.0], [0.25, 0.5, 2.0]],
                           [[-0.5, -0.5, 2.0], [0.25, 0.5, 2.0], [-0.5, 0.5, 2.0]]], dtype=torch.float64)[None]
    edge_column = 19  # the last column whose centre x = (2c + 1 - S) / S is inside x <= 0.25
    row = size // 2
    for distance in range(0, 6):
        faces = square.clone().requires_grad_(True)
        image = opendr_rasterize(faces, None, size, edges=edge_table(torch.tensor([[0, 1, 2], [0, 2, 3]])))
        (-image[0, 3, row, edge_column + distance]).backward()
        reach = float(faces.grad[..., 0].sum())
        nmr_faces = square.clone().requires_grad_(True)
        (-hard_rasterize(nmr_faces, None, size)[0, 3, row, edge_column + distance]).backward()
        if distance >= 2:
            assert reach == 0.0
            assert float(nmr_faces.grad[..., 0].sum()) < 0  # NMR pulls the edge towards the pixel
        elif distance == 1:
            assert reach < 0  # the line pixel of M, just outside: the edge is pulled out
        assert torch.isfinite(faces.grad).all()


@pytest.mark.parametrize("kind", ["vertex", "surface", "volume"])
def test_texture_gradients_gradcheck(kind):
    """Exact: the image is linear in the textures, with the barycentric weights (also on M)."""
    faces = random_screen_faces(batch=1, num_faces=8, dtype=torch.float64, seed=37)
    textures = _textures(faces, kind).requires_grad_(True)
    assert opendr_maps(faces, 10).mask.sum() >= 5
    assert torch.autograd.gradcheck(lambda t: opendr_rasterize(faces, t, 10, kind), (textures,))


def test_degenerate_off_screen_and_behind_camera_faces_have_finite_zero_gradients():
    faces = random_screen_faces(batch=2, num_faces=30, dtype=torch.float64, seed=41)
    faces[:, 8, 0, 2] = -0.5  # behind the camera
    faces[:, 9, 1, 1] = float("nan")
    faces[:, 10, 2, 0] = float("inf")
    textures = _textures(faces, "volume")
    upstream = torch.randn(2, 4, 24, 24, dtype=torch.float64)
    image, grad_faces, grad_textures = forward_backward(opendr_rasterize, faces, textures, upstream, "volume")
    assert torch.isfinite(image).all() and torch.isfinite(grad_faces).all() and torch.isfinite(grad_textures).all()
    for f in (1, 2, 3, 4, 8, 9, 10):  # collinear, coincident, off-screen, two coincident corners, not drawable
        assert (grad_faces[:, f] == 0).all() and (grad_textures[:, f] == 0).all()


@pytest.mark.parametrize("kind", [None, "volume"])
@pytest.mark.parametrize("batch", [3, 1])
def test_deterministic_across_runs_and_thread_counts(kind, batch):
    faces = random_screen_faces(batch=batch, num_faces=200, seed=43, size=0.2)
    textures = _textures(faces, kind)
    upstream = torch.randn(batch, 4, 48, 48, generator=torch.Generator().manual_seed(7))
    assert_deterministic_across_threads(lambda: forward_backward(opendr_rasterize, faces, textures, upstream, kind))


@pytest.mark.parametrize("kind", [None, "vertex", "surface", "volume"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("overdraw", [True, False])
def test_emulated_cuda_launches_equal_the_cpu_path(kind, dtype, overdraw):
    """The CUDA launch sequence (per-thread kernels of opendr_kernel.h) run serially on the CPU gives
    bit-identical images, maps and gradients: every line of the GPU path runs in CI."""
    faces = random_screen_faces(batch=3, num_faces=80, dtype=dtype, seed=41, size=0.3)
    screen, edges = _mesh_scene("occluded", batch=3)
    for scene_faces, scene_edges in ((faces, None), (screen.to(dtype), edges)):
        textures = _textures(scene_faces, kind)
        upstream = torch.randn(3, 4, 40, 40, dtype=dtype, generator=torch.Generator().manual_seed(3))
        options = dict(overdraw=overdraw, edges=scene_edges, background=(0.2, 0.4, 0.6))
        cpu = forward_backward(opendr_rasterize, scene_faces, textures, upstream, kind, **options)
        emulated = forward_backward(opendr_rasterize, scene_faces, textures, upstream, kind, emulate_cuda=True, **options)
        for a, b in zip(cpu, emulated):
            assert (a is None and b is None) or torch.equal(a, b)
        maps = opendr_maps(scene_faces, 40, edges=scene_edges, overdraw=overdraw)
        emulated_maps = opendr_maps(scene_faces, 40, edges=scene_edges, overdraw=overdraw, emulate_cuda=True)
        for a, b in zip(maps, emulated_maps):
            assert torch.equal(a, b)


@pytest.mark.parametrize("axis", [0, 1])
def test_silhouette_loss_decreases_along_the_negative_gradient(axis):
    screen, edges = _mesh_scene("sphere", batch=1)
    shift = torch.zeros(3, dtype=torch.float64)
    shift[axis] = 0.06  # about one pixel at 32 x 32
    target = opendr_rasterize(screen + shift, None, 32, edges=edges)[:, 3]
    offset = torch.zeros(3, dtype=torch.float64, requires_grad=True)

    def loss(o):
        alpha = opendr_rasterize(screen + o, None, 32, edges=edges)[:, 3]
        return 1 - (alpha * target).sum() / (alpha + target - alpha * target).sum()

    before = loss(offset)
    before.backward()
    assert offset.grad[axis] < 0 and offset.grad[2] == 0
    step = offset.detach() - 0.03 * offset.grad / offset.grad.norm()
    assert loss(step) < before
