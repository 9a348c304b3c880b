"""Bad input raises a clear error naming the problem; nothing crashes. Every registered renderer
goes through the shared checks (the ``renderer`` fixture iterates over ``renderers.available()``)."""

from __future__ import annotations

import pytest
import torch

import renderers
from renderers._ext import option_enum


@pytest.fixture
def scene():
    vertices = torch.tensor([[[0.0, 0.0, 0.0], [0.3, 0.0, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, 0.3]]])
    faces = torch.tensor([[0, 1, 2], [0, 2, 3], [0, 3, 1], [1, 3, 2]])
    eye = renderers.points_from_angles(2.732, 30.0, 0.0)[None]
    return vertices, faces, eye


@pytest.fixture(params=renderers.available())
def renderer(request):
    return renderers.create(request.param, image_size=16)


def test_valid_input_renders(renderer, scene):
    image = renderer(*scene)
    assert image.shape == (1, 4, 16, 16) and image.dtype == torch.float32
    assert image[:, 3].max() > 0.5


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (lambda v, f, e: (v[0], f, e), ValueError, r"vertices must have shape \(B, V, 3\)"),
        (lambda v, f, e: (v[..., :2], f, e), ValueError, r"vertices must have shape"),
        (lambda v, f, e: (v.long(), f, e), TypeError, r"vertices must be a floating-point"),
        (lambda v, f, e: (v, f.float(), e), TypeError, r"faces must be an integer"),
        (lambda v, f, e: (v, f[:, :2], e), ValueError, r"faces must have shape"),
        (lambda v, f, e: (v, f[None].expand(2, -1, -1), e), ValueError, r"faces must have shape .* B = 1"),
        (lambda v, f, e: (v, f + 4, e), IndexError, r"face indices must be in \[0, 3\]"),
        (lambda v, f, e: (v, f - 1, e), IndexError, r"face indices"),
        (lambda v, f, e: (v, f, e[:, :2]), ValueError, r"eye must have shape"),
        (lambda v, f, e: (v.index_fill(1, torch.tensor([1]), float("nan")), f, e), ValueError, r"vertices contain NaN"),
        (lambda v, f, e: (v, f, e * float("inf")), ValueError, r"eye contains NaN or infinite"),
        (lambda v, f, e: (v, f.to("meta"), e), ValueError, r"faces is on meta but vertices are on cpu"),
    ],
)
def test_bad_mesh_inputs(renderer, scene, mutate, error, message):
    with pytest.raises(error, match=message):
        renderer(*mutate(*scene))


@pytest.mark.parametrize(
    ("textures", "error", "message"),
    [
        (torch.rand(1, 5, 3), ValueError, r"per-vertex textures must have shape \(B, V, 3\)"),
        (torch.rand(1, 4, 3, 3), ValueError, r"a square number"),
        (torch.rand(1, 4, 4, 2), ValueError, r"per-face textures must have shape"),
        (torch.rand(1, 4, 4, 3, 1), ValueError, r"textures must be per-vertex"),
        (torch.randint(0, 2, (1, 4, 3)), TypeError, r"floating-point"),
        (torch.full((1, 4, 3), float("nan")), ValueError, r"textures contain NaN"),
    ],
)
def test_bad_textures(renderer, scene, textures, error, message):
    with pytest.raises(error, match=message):
        renderer(*scene, textures=textures)


def test_unknown_renderer_lists_valid_names():
    with pytest.raises(KeyError, match=r"unknown renderer 'softrass'.*available: edge, nmr, opendr, softras.*Did you mean 'softras'"):
        renderers.create("softrass")


def test_unknown_option_lists_valid_ones():
    with pytest.raises(TypeError, match=r"unknown option\(s\) for renderer 'softras': 'sigm' \(did you mean 'sigma'\?\); valid options: .*gamma"):
        renderers.create("softras", sigm=1e-4)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sigma": 0.0}, "sigma must be a positive finite number"),
        ({"gamma": -1.0}, "gamma must be a positive finite number"),
        ({"dist_eps": 0.7}, r"dist_eps must be in \(0, 0.5\)"),
        ({"near": 5.0, "far": 1.0}, "far must be a finite depth larger than near"),
        ({"aggr_alpha": "max"}, "aggr_alpha must be one of 'prod', 'sum', 'hard'"),
        ({"aggr_rgb": "mean"}, "aggr_rgb must be one of"),
        ({"dist_func": "manhattan"}, "dist_func must be one of"),
        ({"image_size": 0}, "image_size must be an integer"),
        ({"viewing_angle": 95.0}, "viewing_angle"),
        ({"background": (1.0, 0.0)}, "background must have 3 components"),
        ({"light_direction": (0.0, 0.0, 0.0)}, "light_direction must not be the zero vector"),
    ],
)
def test_invalid_option_values(options, message):
    with pytest.raises(ValueError, match=message):
        renderers.create("softras", **options)


def test_kernel_rejects_malformed_tensors_without_crashing():
    from renderers._ext import extension

    ext = extension()
    params = ext.SoftRasParams()
    params.aggr_rgb = option_enum("SoftRgbAggregation", "none")  # silhouette only
    with pytest.raises(RuntimeError, match=r"face_vertices must have shape \(B, F, 3, 3\)"):
        ext.soft_rasterize_forward(torch.zeros(1, 2, 3), torch.empty(0), params)
    with pytest.raises(RuntimeError, match="float32 or float64"):
        ext.soft_rasterize_forward(torch.zeros(1, 2, 3, 3, dtype=torch.int32), torch.empty(0), params)
    params.aggr_rgb = option_enum("SoftRgbAggregation", "softmax")
    with pytest.raises(RuntimeError, match=r"textures must have shape \(B, F, T, 3\)"):
        ext.soft_rasterize_forward(torch.zeros(1, 2, 3, 3), torch.zeros(1, 3, 1, 3), params)
    with pytest.raises(RuntimeError, match="textures has dtype Double but face_vertices has Float"):
        ext.soft_rasterize_forward(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 1, 3, dtype=torch.float64), params)
    params.sigma = -1.0
    with pytest.raises(RuntimeError, match="sigma must be positive"):
        ext.soft_rasterize_forward(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 1, 3), params)


def test_unsupported_devices_are_refused():
    faces = torch.zeros(1, 1, 3, 3, device="meta")
    from renderers.softras import SoftRasOptions, soft_rasterize

    with pytest.raises(RuntimeError, match="supports only 'cpu' and 'cuda'"):
        soft_rasterize(faces, None, SoftRasOptions())


def test_empty_batch_and_no_faces(renderer, scene):
    vertices, faces, eye = scene
    empty = renderer(vertices[:0], faces, eye[:0])
    assert empty.shape == (0, 4, 16, 16)
    nothing = renderer(vertices, faces[:0], eye)
    assert torch.count_nonzero(nothing) == 0
