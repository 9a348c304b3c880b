"""End to end: world meshes through the camera, lighting and OpenDR; options and bad input."""

from __future__ import annotations

import math

import pytest
import torch
import trimesh

import renderers
from renderers.gather import gather_faces, project_faces
from renderers.lighting import directional_light, vertex_normals
from renderers.opendr import opendr_rasterize


def _sphere(radius: float = 0.3, subdivisions: int = 3):
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return torch.tensor(mesh.vertices, dtype=torch.float32)[None], torch.tensor(mesh.faces, dtype=torch.int64)


def test_registered_with_defaults():
    assert "opendr" in renderers.available()
    opts = renderers.create("opendr").options
    assert (opts.overdraw, opts.near, opts.far, opts.double_sided, opts.anti_aliasing) == (True, 0.1, 100.0, True, False)
    assert {"overdraw", "near", "far", "double_sided", "anti_aliasing", "silhouette_only"} <= set(
        renderers.option_names("opendr"))


def test_sphere_silhouette_area_matches_projection():
    vertices, faces = _sphere(0.3, subdivisions=4)
    eye = renderers.points_from_angles(2.732, 30.0, -15.0 * torch.arange(4).float())
    ndc_radius = math.tan(math.asin(0.3 / 2.732)) / math.tan(math.radians(15.0))
    area = math.pi * ndc_radius**2 / 4.0
    plain = renderers.create("opendr", image_size=128, silhouette_only=True, overdraw=False)
    measured = plain(vertices.expand(4, -1, -1), faces, eye)[:, 3].mean(dim=(1, 2))
    torch.testing.assert_close(measured, torch.full_like(measured, area), rtol=0.02, atol=0)
    # the overdraw adds the outside half of a one-pixel outline: about half a pixel times the perimeter
    overdrawn = renderers.create("opendr", image_size=128, silhouette_only=True)(vertices.expand(4, -1, -1), faces, eye)
    extra = (overdrawn[:, 3].mean(dim=(1, 2)) - measured) * 128**2
    perimeter = 2 * math.pi * ndc_radius * 64
    assert ((extra > 0.25 * perimeter) & (extra < 0.75 * perimeter)).all()


def test_anti_aliasing_and_silhouettes():
    vertices, faces = _sphere(0.3)
    eye = renderers.points_from_angles(2.732, 30.0, 0.0)[None]
    image = renderers.create("opendr", image_size=32, anti_aliasing=True)(vertices, faces, eye)
    alpha = image[0, 3]
    assert ((alpha > 0) & (alpha < 1)).any() and alpha.max() == 1
    silhouette = renderers.create("opendr", image_size=32, silhouette_only=True)(vertices, faces, eye)
    assert (silhouette[:, :3] == 0).all() and silhouette[:, 3].sum() > 100


def test_gradients_reach_world_vertices_textures_and_the_camera():
    vertices, faces = _sphere(0.3, subdivisions=2)
    vertices = vertices.clone().requires_grad_(True)
    textures = torch.rand(1, faces.shape[0], 2, 2, 2, 3, requires_grad=True)
    eye = renderers.points_from_angles(2.732, 30.0, 0.0)[None].requires_grad_(True)
    image = renderers.create("opendr", image_size=32)(vertices, faces, eye, textures)
    (image * torch.randn_like(image)).sum().backward()
    for tensor in (vertices, textures, eye):
        assert torch.isfinite(tensor.grad).all() and tensor.grad.abs().sum() > 0


def test_lighting_is_differentiated_exactly_through_the_normals():
    """The renderer's vertex gradient is OpenDR's image-space term plus autograd through the lit
    colours; composing the public pieces by hand gives the same, and the lighting term matters."""
    vertices, faces = _sphere(0.3, subdivisions=2)
    vertices = vertices.double()
    colours = torch.rand(1, vertices.shape[1], 3, dtype=torch.float64)
    eye = renderers.points_from_angles(2.732, 30.0, 40.0)[None].double()
    upstream = torch.randn(1, 4, 32, 32, dtype=torch.float64)
    renderer = renderers.create("opendr", image_size=32)

    v = vertices.clone().requires_grad_(True)
    (renderer(v, faces, eye, colours) * upstream).sum().backward()

    def by_hand(with_light_gradient: bool) -> torch.Tensor:
        w = vertices.clone().requires_grad_(True)
        fb = faces[None]
        light = directional_light(vertex_normals(w, fb))
        lit = colours * (light if with_light_gradient else light.detach())
        image = opendr_rasterize(project_faces(w, eye, fb, 15.0), gather_faces(lit, fb), 32, "vertex",
                                 edges=renderers.edge_table(faces))
        (image * upstream).sum().backward()
        return w.grad

    torch.testing.assert_close(v.grad, by_hand(True), rtol=1e-12, atol=1e-12)
    assert (v.grad - by_hand(False)).abs().max() > 1e-3 * v.grad.abs().max()


def test_edge_table_is_built_once_per_face_list():
    vertices, faces = _sphere(0.3, subdivisions=2)
    eye = renderers.points_from_angles(2.732, 30.0, 0.0)[None]
    calls = []
    original = renderers.topology._table_of
    renderers.topology._table_of = lambda f: calls.append(1) or original(f)
    try:
        renderer = renderers.create("opendr", image_size=16, silhouette_only=True)
        for _ in range(3):
            renderer(vertices, faces, eye)
    finally:
        renderers.topology._table_of = original
    assert len(calls) <= 1


def test_per_image_face_lists():
    vertices, faces = _sphere(0.3, subdivisions=2)
    eye = renderers.points_from_angles(2.732, 30.0, torch.tensor([0.0, 90.0]))
    renderer = renderers.create("opendr", image_size=24, silhouette_only=True)
    shared = renderer(vertices.expand(2, -1, -1), faces, eye)
    per_image = renderer(vertices.expand(2, -1, -1), torch.stack((faces, faces.roll(1, dims=1))), eye)
    torch.testing.assert_close(shared, per_image)  # the same faces, corners rotated: the same image


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"near": 5.0, "far": 1.0}, "far must be larger than near"),
        ({"image_size": 0}, "image_size must be an integer"),
        ({"background": (1.0, 0.0)}, "background must have 3 components"),
    ],
)
def test_invalid_option_values(options, message):
    with pytest.raises(ValueError, match=message):
        renderers.create("opendr", **options)


def test_unknown_option_suggests_one():
    with pytest.raises(TypeError, match=r"'overdrew' \(did you mean 'overdraw'\?\)"):
        renderers.create("opendr", overdrew=True)


def test_kernel_rejects_malformed_inputs_without_crashing():
    from renderers._ext import extension

    ext = extension()
    params = ext.OpenDRParams()
    faces = torch.zeros(1, 2, 3, 3)
    good = renderers.soup_edge_table(2)
    with pytest.raises(RuntimeError, match=r"face_vertices must have shape \(B, F, 3, 3\)"):
        ext.opendr_forward(torch.zeros(1, 2, 3), torch.empty(0), good, params)
    with pytest.raises(RuntimeError, match="edges must be an int32 tensor"):
        ext.opendr_forward(faces, torch.empty(0), good.long(), params)
    with pytest.raises(RuntimeError, match=r"edges must have shape \(E, 6\) or \(B, E, 6\)"):
        ext.opendr_forward(faces, torch.empty(0), good[:, :5], params)
    for column, value in ((0, 2), (3, 5), (1, 3), (2, 1)):  # a face id out of range, a bad or repeated slot
        bad = good.clone()
        bad[1, column] = value
        with pytest.raises(RuntimeError, match="edges contain invalid rows"):
            ext.opendr_forward(faces, torch.empty(0), bad, params)
    params.near, params.far = 2.0, 1.0
    with pytest.raises(RuntimeError, match="far must be larger than near"):
        ext.opendr_forward(faces, torch.empty(0), good, params)
    params.near, params.far = 0.1, 100.0
    image, index, weights, _, mask = ext.opendr_forward(faces, torch.empty(0), good, params)
    with pytest.raises(RuntimeError, match="mask must be uint8"):
        ext.opendr_backward(faces, torch.empty(0), image, index, weights, mask.bool(), image, params)
    with pytest.raises(RuntimeError, match=r"weights must have shape \(B, S, S, 3\)"):
        ext.opendr_backward(faces, torch.empty(0), image, index, weights[..., :2], mask, image, params)
    with pytest.raises(RuntimeError, match="face_index must be int32"):
        ext.opendr_backward(faces, torch.empty(0), image, index.long(), weights, mask, image, params)
    with pytest.raises(ValueError, match="edges are on meta"):
        opendr_rasterize(faces, None, 8, edges=good.to("meta"))


def test_unsupported_devices_and_empty_inputs():
    with pytest.raises(RuntimeError, match="supports only 'cpu' and 'cuda'"):
        opendr_rasterize(torch.zeros(1, 1, 3, 3, device="meta"), None, 8)
    renderer = renderers.create("opendr", image_size=8)
    vertices = torch.rand(2, 3, 3)
    eye = renderers.points_from_angles(2.732, 30.0, 0.0)
    assert renderer(vertices[:0], torch.tensor([[0, 1, 2]]), eye[None].expand(0, 3)).shape == (0, 4, 8, 8)
    assert torch.count_nonzero(renderer(vertices, torch.zeros(0, 3, dtype=torch.int64), eye)[:, 3]) == 0
