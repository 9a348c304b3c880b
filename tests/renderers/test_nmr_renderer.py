"""End to end: world meshes through the camera, lighting and NMR; options and bad input."""

from __future__ import annotations

import math

import pytest
import torch
import trimesh

import renderers
from renderers._ext import option_enum
from renderers.camera import project
from renderers.lighting import gather_face_vertices


def _sphere(radius: float = 0.3, subdivisions: int = 3):
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return torch.tensor(mesh.vertices, dtype=torch.float32)[None], torch.tensor(mesh.faces, dtype=torch.int64)


def test_registered_with_defaults():
    assert "nmr" in renderers.available()
    renderer = renderers.create("nmr")
    opts = renderer.options
    assert (opts.near, opts.far, opts.eps, opts.anti_aliasing, opts.double_sided) == (0.1, 100.0, 1e-3, True, True)
    expected = {"near", "far", "eps", "anti_aliasing", "double_sided", "silhouette_only"}
    assert expected <= set(renderers.option_names("nmr"))


def test_sphere_silhouette_area_matches_projection():
    vertices, faces = _sphere(0.3, subdivisions=4)
    eye = renderers.points_from_angles(2.732, 30.0, -15.0 * torch.arange(4).float())
    renderer = renderers.create("nmr", image_size=128, silhouette_only=True)
    alpha = renderer(vertices.expand(4, -1, -1), faces, eye)[:, 3]
    ndc_radius = math.tan(math.asin(0.3 / 2.732)) / math.tan(math.radians(15.0))
    measured = alpha.mean(dim=(1, 2))
    torch.testing.assert_close(measured, torch.full_like(measured, math.pi * ndc_radius**2 / 4.0), rtol=0.02, atol=0)
    assert ((alpha > 0) & (alpha < 1)).any()  # anti-aliased edges


def test_lighting_and_texture_kinds_agree_for_flat_colours():
    vertices, faces = _sphere(0.3)
    eye = renderers.points_from_angles(2.732, 30.0, 0.0)[None]
    renderer = renderers.create("nmr", image_size=32, light_intensity_ambient=1.0, light_intensity_directional=0.0)
    colour = torch.tensor([0.9, 0.2, 0.4])
    num_faces = faces.shape[0]
    images = [
        renderer(vertices, faces, eye, colour.expand(1, vertices.shape[1], 3)),
        renderer(vertices, faces, eye, colour.expand(1, num_faces, 4, 3)),
        renderer(vertices, faces, eye, colour.expand(1, num_faces, 2, 2, 2, 3)),
    ]
    for image in images[1:]:
        torch.testing.assert_close(image, images[0], rtol=0, atol=1e-5)
    inside = images[0][0, 3] == 1
    torch.testing.assert_close(images[0][0, :3][:, inside], colour[:, None].expand(-1, int(inside.sum())))


def test_lighting_from_above():
    vertices, faces = _sphere(0.3)
    eye = renderers.points_from_angles(2.732, 0.0, 0.0)[None]
    image = renderers.create("nmr", image_size=64)(vertices, faces, eye)
    top, bottom = image[0, 0, 20:24, 30:34].mean(), image[0, 0, 38:42, 30:34].mean()
    torch.testing.assert_close(float(bottom), 0.5)
    assert float(top) > 0.8


def test_gradients_reach_world_vertices_and_volume_textures():
    vertices, faces = _sphere(0.3, subdivisions=2)
    vertices = vertices.clone().requires_grad_(True)
    textures = torch.rand(1, faces.shape[0], 3, 3, 3, 3, requires_grad=True)
    renderer = renderers.create("nmr", image_size=32)
    image = renderer(vertices, faces, renderers.points_from_angles(2.732, 30.0, 0.0)[None], textures)
    (image * torch.randn_like(image)).sum().backward()
    assert torch.isfinite(vertices.grad).all() and vertices.grad.abs().sum() > 0
    assert torch.isfinite(textures.grad).all() and textures.grad.abs().sum() > 0


def test_sphere_moves_towards_target_along_negative_gradient():
    vertices, faces = _sphere(0.2)
    eye = renderers.points_from_angles(2.732, 0.0, 0.0)[None]
    renderer = renderers.create("nmr", image_size=32, silhouette_only=True)
    for axis in (0, 1):
        shift = torch.zeros(3)
        shift[axis] = 0.05
        target = renderer(vertices + shift, faces, eye)[:, 3]
        offset = torch.zeros(3, requires_grad=True)

        def loss():
            alpha = renderer(vertices + offset, faces, eye)[:, 3]
            return 1 - (alpha * target).sum() / (alpha + target - alpha * target).sum()

        before = loss()
        before.backward()
        assert offset.grad[axis] < 0
        with torch.no_grad():
            offset -= 0.02 * offset.grad / offset.grad.norm()
        assert loss() < before


def test_rasterize_maps_is_the_exact_renderer():
    vertices, faces = _sphere(0.3)
    eye = renderers.points_from_angles(2.732, 30.0, 0.0)[None]
    screen = gather_face_vertices(project(vertices, eye, 15.0), faces[None])
    maps = renderers.rasterize_maps(screen, 32)
    alpha = renderers.create("nmr", image_size=32, anti_aliasing=False, silhouette_only=True)(vertices, faces, eye)
    assert torch.equal((maps.face_index >= 0).float(), alpha[:, 3])
    assert maps.face_index.dtype == torch.int64 and maps.weights.shape == (1, 32, 32, 3)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"near": 5.0, "far": 1.0}, "far must be larger than near"),
        ({"eps": 0.0}, "eps must be a positive finite number"),
        ({"image_size": 0}, "image_size must be an integer"),
    ],
)
def test_invalid_option_values(options, message):
    with pytest.raises(ValueError, match=message):
        renderers.create("nmr", **options)


def test_unknown_option_suggests_one():
    with pytest.raises(TypeError, match=r"'anti_alias' \(did you mean 'anti_aliasing'\?\)"):
        renderers.create("nmr", anti_alias=True)


@pytest.mark.parametrize(
    ("textures", "message"),
    [
        (torch.rand(1, 4, 2, 2, 3, 3), r"per-face volume textures must have shape \(B, F, N, N, N, 3\)"),
        (torch.rand(1, 3, 2, 2, 2, 3), r"per-face volume textures must have shape"),
        (torch.rand(1, 4, 3, 3), r"a square number"),
        (torch.rand(1, 4, 2, 3, 3), r"textures must be per-vertex"),
    ],
)
def test_bad_textures(textures, message):
    vertices = torch.tensor([[[0.0, 0.0, 0.0], [0.3, 0.0, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, 0.3]]])
    faces = torch.tensor([[0, 1, 2], [0, 2, 3], [0, 3, 1], [1, 3, 2]])
    eye = renderers.points_from_angles(2.732, 30.0, 0.0)[None]
    with pytest.raises(ValueError, match=message):
        renderers.create("nmr", image_size=8)(vertices, faces, eye, textures)


def test_softras_refuses_volume_textures_clearly():
    vertices = torch.tensor([[[0.0, 0.0, 0.0], [0.3, 0.0, 0.0], [0.0, 0.3, 0.0]]])
    faces = torch.tensor([[0, 1, 2]])
    eye = renderers.points_from_angles(2.732, 30.0, 0.0)[None]
    with pytest.raises(ValueError, match=r"renderer 'softras' does not accept volume textures .* vertex, surface"):
        renderers.create("softras", image_size=8)(vertices, faces, eye, torch.rand(1, 1, 2, 2, 2, 3))


def test_kernel_rejects_malformed_tensors_without_crashing():
    from renderers._ext import extension

    ext = extension()
    params = ext.RasterizeParams()
    with pytest.raises(RuntimeError, match=r"face_vertices must have shape \(B, F, 3, 3\)"):
        ext.rasterize_forward(torch.zeros(1, 2, 3), torch.empty(0), params)
    with pytest.raises(RuntimeError, match="float32 or float64"):
        ext.rasterize_forward(torch.zeros(1, 2, 3, 3, dtype=torch.int32), torch.empty(0), params)
    params.texture_type = option_enum("RasterTextureType", "volume")
    with pytest.raises(RuntimeError, match="volume textures must have N\\*N\\*N colours per face, got 4"):
        ext.rasterize_forward(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 4, 3), params)
    params.texture_type = option_enum("RasterTextureType", "vertex")
    with pytest.raises(RuntimeError, match="textures has dtype Double but face_vertices has Float"):
        ext.rasterize_forward(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3, dtype=torch.float64), params)
    params.near, params.far = 2.0, 1.0
    with pytest.raises(RuntimeError, match="far must be larger than near"):
        ext.rasterize_forward(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3), params)
    params.near, params.far, params.texture_type = 0.1, 100.0, option_enum("RasterTextureType", "none")
    image, index, _, _ = ext.rasterize_forward(torch.zeros(1, 2, 3, 3), torch.empty(0), params)
    with pytest.raises(RuntimeError, match="face_index must be int32"):
        ext.kato_backward(torch.zeros(1, 2, 3, 3), torch.empty(0), image, index.long(), image, params)


def test_unsupported_devices_and_empty_inputs():
    from renderers.nmr import hard_rasterize

    with pytest.raises(RuntimeError, match="supports only 'cpu' and 'cuda'"):
        hard_rasterize(torch.zeros(1, 1, 3, 3, device="meta"), None, 8)
    renderer = renderers.create("nmr", image_size=8)
    vertices = torch.rand(2, 3, 3)
    eye = renderers.points_from_angles(2.732, 30.0, 0.0)
    assert renderer(vertices[:0], torch.tensor([[0, 1, 2]]), eye[None].expand(0, 3)).shape == (0, 4, 8, 8)
    assert torch.count_nonzero(renderer(vertices, torch.zeros(0, 3, dtype=torch.int64), eye)[:, 3]) == 0
