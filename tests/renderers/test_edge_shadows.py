"""Edge sampling with shadows: the compiled kernels against the plain-PyTorch estimator (same samples,
float64, 1e-10), the emulated CUDA launch, determinism, the shading model, renderer integration and
input errors. Unbiasedness against exact ground truth is in tests/renderers/fidelity/test_shadow_gradients.py."""

from __future__ import annotations

import pytest
import torch

import renderers
from renderers import Lighting
from renderers.edge import edge_rasterize, edge_shadow_rasterize
from renderers.fidelity.shadow import shadow_truth_scene
from renderers.reference.shadow import edge_shadow_rasterize_reference, shadow_lit_reference

from .conftest import assert_deterministic_across_threads
from renderers.scenes import sphere_over_ground

from .shadow_scenes import forward_backward, shadow_inputs


def _triangle_inputs() -> dict:
    scene = shadow_truth_scene(16)
    return shadow_inputs(scene.vertices, scene.faces, scene.eye, scene.textures, scene.light_direction[None],
                         scene.ambient_intensity, scene.directional_intensity)


def _sphere_inputs() -> dict:
    s = sphere_over_ground()
    return shadow_inputs(s["vertices"], s["faces"], s["eye"], s["textures"], s["direction"])


SCENES = {"triangle": _triangle_inputs, "sphere": _sphere_inputs}
OPTIONS = dict(samples_per_pixel=4, edge_samples=300, shadow_samples=300, seed=7, background=(0.1, 0.2, 0.3))


@pytest.mark.parametrize("scene", sorted(SCENES))
def test_matches_reference_to_1e_10(scene):
    inputs = SCENES[scene]()
    batch = inputs["tensors"]["world"].shape[0]
    upstream = torch.randn(batch, 4, 16, 16, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    image, grads = forward_backward(edge_shadow_rasterize, inputs, upstream, **OPTIONS)
    ref_image, ref_grads = forward_backward(edge_shadow_rasterize_reference, inputs, upstream, **OPTIONS)
    torch.testing.assert_close(image, ref_image, rtol=0, atol=1e-12)
    for name, grad in grads.items():
        ref = ref_grads[name]
        assert grad.abs().max() > 1e-3, f"{name}: no gradient"
        torch.testing.assert_close(grad, ref, rtol=0, atol=1e-10 * max(1.0, float(ref.abs().max())), msg=name)


def test_scene_is_shadowed_and_secondary_term_reaches_the_light():
    """The test scenes really have shadows, and the secondary term changes the gradient of what it
    should reach: the light direction (only the secondary term and the cosine move it), the
    occluder's and the receiver's world corners."""
    inputs = _triangle_inputs()
    t = inputs["tensors"]
    options = dict(OPTIONS, shadow_samples=0)
    image_unshadowed = edge_rasterize(t["face_vertices"].detach(), (t["ambient"] + t["directional"]).detach(), 16,
                                      inputs["kind"], edges=inputs["edges"], **{k: v for k, v in options.items()
                                                                               if k != "shadow_samples"})
    upstream = torch.ones(1, 4, 16, 16, dtype=torch.float64)
    image, without = forward_backward(edge_shadow_rasterize, inputs, upstream, **options)
    _, with_secondary = forward_backward(edge_shadow_rasterize, inputs, upstream, **OPTIONS)
    darker = (image_unshadowed - image)[0, :3].sum(0)
    assert float(darker.sum()) > 1.0 and float(darker.min()) > -1e-12  # shadows only darken
    assert torch.equal(without["light"], torch.zeros_like(without["light"]))
    assert with_secondary["light"].abs().max() > 0.1
    assert (with_secondary["world"][0, 0] - without["world"][0, 0]).abs().max() > 0.01  # the occluder
    assert (with_secondary["world"][0, 1:] - without["world"][0, 1:]).abs().max() > 0.01  # the ground


@pytest.mark.parametrize("scene", sorted(SCENES))
def test_emulated_cuda_equals_cpu(scene):
    inputs = SCENES[scene]()
    batch = inputs["tensors"]["world"].shape[0]
    upstream = torch.randn(batch, 4, 16, 16, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    image, grads = forward_backward(edge_shadow_rasterize, inputs, upstream, **OPTIONS)
    emu_image, emu_grads = forward_backward(edge_shadow_rasterize, inputs, upstream, emulate_cuda=True, **OPTIONS)
    assert torch.equal(image, emu_image)
    for name in grads:
        assert torch.equal(grads[name], emu_grads[name]), name


def test_deterministic_across_threads():
    inputs = _sphere_inputs()
    upstream = torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(5), dtype=torch.float64)

    def run():
        image, grads = forward_backward(edge_shadow_rasterize, inputs, upstream, **OPTIONS)
        return (image, *grads.values())

    assert_deterministic_across_threads(run)


def test_float32_matches_float64():
    inputs = _triangle_inputs()
    upstream = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    image, grads = forward_backward(edge_shadow_rasterize, inputs, upstream, **OPTIONS)
    single = dict(inputs, tensors={k: v.detach().float() for k, v in inputs["tensors"].items()})
    image32, grads32 = forward_backward(edge_shadow_rasterize, single, upstream.float(), **OPTIONS)
    # (a sample whose side or shadow ray lands within rounding of a face border may differ)
    assert (image32.double() - image).abs().gt(1e-4).float().mean() < 0.01
    for name in grads:
        error = (grads32[name].double() - grads[name]).norm() / grads[name].norm()
        assert error < 0.02, (name, float(error))


def test_shadow_rays_against_brute_force_ray_casting():
    """Visibility of random points on the sphere-over-ground scene: the light-frame test of the
    reference (shared rules with the kernels) against Möller–Trumbore ray casting toward the light."""
    from renderers.fidelity.shadow import _ray_hits  # the independent ray caster of the truth module

    s = sphere_over_ground(batch=1)
    world = s["vertices"][0][s["faces"]]
    w = torch.nn.functional.normalize(s["direction"][0], dim=0)
    gen = torch.Generator().manual_seed(8)
    faces = torch.randint(0, world.shape[0], (2000,), generator=gen)
    bary = torch.rand(2000, 3, generator=gen, dtype=torch.float64) + 0.05
    bary = bary / bary.sum(1, keepdim=True)
    points = (bary[:, :, None] * world[faces]).sum(1)
    lit = shadow_lit_reference(world, w, points, faces, 1e-5)
    t = _ray_hits(points, w.expand_as(points), world)
    t[torch.arange(2000), faces] = float("inf")  # a face never shadows itself
    blocked = (t > 1e-7).logical_and(t.isfinite()).any(1)
    assert 0.1 < float(lit.float().mean()) < 0.9  # a real mixture
    assert torch.equal(lit, ~blocked)


def test_renderer_with_shadows_reaches_light_camera_and_vertices():
    scene = shadow_truth_scene(16)
    direction = scene.light_direction.clone().requires_grad_(True)
    eye = scene.eye.clone().requires_grad_(True)
    vertices = scene.vertices.clone().requires_grad_(True)
    renderer = renderers.create("edge", image_size=16, shadows=True, seed=3)
    lights = Lighting(ambient_intensity=scene.ambient_intensity, directional_intensity=scene.directional_intensity,
                      direction=direction)
    image = renderer(vertices, scene.faces, eye, scene.textures, lights=lights)
    assert image.shape == (1, 4, 16, 16)
    image[:, :3].sum().backward()
    for tensor in (direction, eye, vertices):
        assert tensor.grad is not None and tensor.grad.abs().max() > 0
    # without shadows the same call is the unshadowed image: brighter where the shadow falls
    plain = renderers.create("edge", image_size=16, seed=3)(scene.vertices, scene.faces, scene.eye, scene.textures,
                                                               lights=Lighting(ambient_intensity=0.4,
                                                                               directional_intensity=0.6,
                                                                               direction=scene.light_direction))
    assert float((plain - image.detach())[:, :3].sum()) > 1.0


def test_shadows_off_is_the_plain_renderer():
    scene = shadow_truth_scene(16)
    a = renderers.create("edge", image_size=16, seed=3)(scene.vertices, scene.faces, scene.eye, scene.textures)
    b = renderers.create("edge", image_size=16, seed=3, shadows=False)(scene.vertices, scene.faces, scene.eye,
                                                                        scene.textures)
    assert torch.equal(a, b)


def test_silhouette_only_ignores_shadows():
    scene = shadow_truth_scene(16)
    a = renderers.create("edge", image_size=16, seed=3, silhouette_only=True)(scene.vertices, scene.faces, scene.eye)
    b = renderers.create("edge", image_size=16, seed=3, silhouette_only=True, shadows=True)(
        scene.vertices, scene.faces, scene.eye)
    assert torch.equal(a, b)


@pytest.mark.parametrize("options, message", [
    (dict(shadows=1), "shadows must be True or False"),
    (dict(shadow_samples=-1), "shadow_samples must be"),
    (dict(shadow_bias=1.5), "shadow_bias"),
    (dict(shadow_bias=-1e-3), "shadow_bias"),
])
def test_bad_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        renderers.create("edge", **options)


def test_bad_inputs_are_named():
    inputs = _triangle_inputs()
    t = {k: v.detach() for k, v in inputs["tensors"].items()}
    args = dict(edges=inputs["edges"], seed=1)
    with pytest.raises(RuntimeError, match="light must have shape"):
        edge_shadow_rasterize(t["face_vertices"], t["ambient"], t["directional"], t["world"], t["light"][0], 16, **args)
    with pytest.raises(RuntimeError, match="world must have"):
        edge_shadow_rasterize(t["face_vertices"], t["ambient"], t["directional"], t["world"][:, :2], t["light"], 16,
                              **args)
    with pytest.raises(RuntimeError, match="directional must have"):
        edge_shadow_rasterize(t["face_vertices"], t["ambient"], t["directional"][..., :1, :].expand(-1, -1, 3, -1), t["world"],
                              t["light"], 16, **args)
    with pytest.raises(RuntimeError, match="light has dtype"):
        edge_shadow_rasterize(t["face_vertices"], t["ambient"], t["directional"], t["world"], t["light"].float(), 16,
                              **args)
