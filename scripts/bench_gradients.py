#!/usr/bin/env python
"""Gradient-fidelity benchmark: every registered renderer's gradients against the truth.

For each renderer configuration (SoftRas at several sigma and gamma, NMR, OpenDR, edge sampling at
several budgets, and edge sampling averaged over seeds) and each scene of
:mod:`renderers.fidelity.truth` (closed-form scenes: a fully visible triangle, a convex closed
mesh, a triangle in front of a quad; finite-difference scenes: a self-occluding lit non-convex
mesh, the same partly off-screen, and a uniformly coloured smooth-shaded sphere turned about its
centre), with two losses (linear ``sum(W * I)`` with fixed random W, and ``1 - IoU`` of the
silhouette against the true silhouette shifted by 1.5 px), it measures:

* ``cos`` and ``rel_l2``: cosine and relative L2 error of the world-vertex gradient against the
  truth (closed-form scenes: the whole gradient; finite-difference scenes: the vector of
  directional derivatives along the scene's directions);
* ``light_rel_l2``: relative error of the light-direction gradient (lit scenes, linear loss);
* ``fwd_err``: mean absolute difference of the forward image from the box-filtered truth;
* ``ms``: time of one forward + backward;
* for the illumination scene, ``rotation_motion``: the derivative along the rotation (truth ~ 0)
  divided by the true derivative along a translation of the same size.

Then the optimisation outcome (:mod:`renderers.fidelity.pose`): recovering a known translation
and rotation from RGBA images from several starting offsets, success rate and final errors.

Then the shadow scenes (hard shadows from the directional light; edge sampling with
``shadows=True`` and its secondary boundary term), linear loss ``sum(W * I)`` only (a shadow does
not change the silhouette, so the IoU loss cannot see it):

* ``shadow``: a triangle over a ground quad (:func:`renderers.fidelity.shadow.shadow_truth_scene`),
  exact box-filtered image by polygon clipping, differentiated by autograd with respect to the
  vertices, the light direction and the camera (W: white noise, as for the other scenes);
* ``self-shadow``: a bumpy sphere over a ground quad, shadowing the ground and itself. Truth:
  central finite differences (step 2/3 pixel for the vertices, 0.01 for the light) of the edge
  renderer's shadowed forward at 64 area samples per pixel with common random numbers, averaged
  over ``--shadow-fd-seeds`` seeds (``truth_error_bar``: the seed mean's standard error and its
  difference from the estimate at twice the step, in quadrature), along two random
  affine deformations of the whole scene, a lift of the sphere alone (which moves its shadow over
  the ground) and a turn of the light; W: smooth (random 4x4, bilinearly upsampled), so that the
  finite differences are quiet. ``fwd_err`` is against the mean of that forward over 32 seeds.

measured for edge sampling with shadows at two secondary budgets (``shadow_samples`` K = S*S and
4*S*S, single call and mean of 16 seeds), with ``shadow_samples=0`` (no secondary term: biased,
for contrast), and for the renderers that do not shadow (SoftRas, NMR, OpenDR, edge sampling
without shadows; every other registered renderer with its defaults): they render the scene
unshadowed, and their gradient is compared to the shadowed truth, so their rows show what
ignoring the shadows costs. Columns as above, plus ``eye_rel_l2`` (camera-position gradient, exact
scene only); ``light_rel_l2`` is the relative error of the light-direction gradient (self-shadow:
of the derivative along the turn).

Writes ``gradient_fidelity.csv``, ``pose_recovery.csv``, ``shadow_fidelity.csv`` (the shadow rows:
their own file, since the summary and figure of ``gradient_fidelity.csv`` average each renderer
over the six scenes above and both losses) and ``gradient_fidelity.png`` (error against the edge
budget and against SoftRas's sigma) into ``--out`` (default ``docs/figures``), and prints the
tables. Every file is written atomically.

    python scripts/bench_gradients.py                  # everything (~10 min on 2 cores)
    python scripts/bench_gradients.py --skip-pose --image-size 24
    python scripts/bench_gradients.py --shadows-only   # the shadow scenes alone (~1-2 min)
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import renderers  # noqa: E402
from recon.atomic_io import write_bytes_atomic  # noqa: E402
from renderers.fidelity import pose  # noqa: E402
from renderers.fidelity.shadow import shadow_truth_scene  # noqa: E402
from renderers.fidelity.truth import (  # noqa: E402
    finite_difference_derivatives,
    iou_loss,
    linear_loss,
    smooth_weights,
    shifted_target,
    supersampled_image,
    truth_scenes,
)
from renderers.scenes import sphere_over_ground  # noqa: E402

EDGE_BUDGETS = (256, 1024, 4096, 16384)
SOFTRAS_SIGMAS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3)
EDGE_MEAN_CALLS = 16


def renderer_configs() -> dict[str, tuple[str, dict, int]]:
    """label -> (registered name, options, calls averaged per gradient)."""
    configs: dict[str, tuple[str, dict, int]] = {}
    for sigma in SOFTRAS_SIGMAS:
        configs[f"softras sigma={sigma:g}"] = ("softras", dict(sigma=sigma, gamma=1e-4), 1)
    configs["softras sigma=1e-4 gamma=1e-2"] = ("softras", dict(sigma=1e-4, gamma=1e-2), 1)
    configs["nmr"] = ("nmr", {}, 1)
    configs["opendr"] = ("opendr", {}, 1)
    for budget in EDGE_BUDGETS:
        configs[f"edge N={budget}"] = ("edge", dict(edge_samples=budget), 1)
    configs[f"edge N=4096 mean of {EDGE_MEAN_CALLS}"] = ("edge", dict(edge_samples=4096), EDGE_MEAN_CALLS)
    missing = sorted(set(renderers.available()) - {name for name, _, _ in configs.values()})
    for name in missing:  # a newly registered renderer is measured with its defaults
        configs[name] = (name, {}, 1)
    return configs


def _gradients(renderer, scene, loss, calls: int):
    """Mean over ``calls`` of the world-vertex and light-direction gradients, the last image and
    the time of one forward + backward."""
    grads, light_grads, seconds = [], [], []
    image = None
    for call in range(calls):
        vertices = scene.vertices.clone().requires_grad_(True)
        direction = torch.tensor(scene.lighting().direction, dtype=torch.float64, requires_grad=True)
        lighting = scene.lighting()
        lights = renderers.Lighting(lighting.ambient_intensity, lighting.ambient_color, lighting.directional_intensity,
                                    lighting.directional_color, direction)
        start = time.perf_counter()
        kwargs = {"seed": 1000 + call} if renderer.name == "edge" else {}
        image = renderer(vertices, scene.faces, scene.eye, scene.textures, lights=lights, **kwargs)
        loss(image).backward()
        seconds.append(time.perf_counter() - start)
        grads.append(vertices.grad)
        light_grads.append(direction.grad if direction.grad is not None else torch.zeros_like(direction))
    return torch.stack(grads).mean(0), torch.stack(light_grads).mean(0), image.detach(), statistics.median(seconds)


def _light_truth(scene, loss, factor: int) -> torch.Tensor:
    """Light-direction gradient of the supersampled image (smooth in the light: autograd)."""
    lighting = scene.lighting()
    direction = torch.tensor(lighting.direction, dtype=torch.float64, requires_grad=True)
    lights = renderers.Lighting(lighting.ambient_intensity, lighting.ambient_color, lighting.directional_intensity,
                                lighting.directional_color, direction)
    loss(supersampled_image(scene, scene.vertices, factor, lights)).backward()
    return direction.grad


def _metrics(estimate: torch.Tensor, truth: torch.Tensor) -> tuple[float, float]:
    cos = float(torch.nn.functional.cosine_similarity(estimate.flatten(), truth.flatten(), dim=0))
    rel = float((estimate - truth).norm() / truth.norm().clamp(min=1e-300))
    return cos, rel


def measure(image_size: int, factor: int) -> list[dict]:
    rows = []
    configs = renderer_configs()
    for scene in truth_scenes(image_size):
        gen = torch.Generator().manual_seed(0)
        weights = torch.randn(1, 4, image_size, image_size, generator=gen, dtype=torch.float64)
        if scene.silhouette_only:
            weights[:, :3] = 0
        truth_image = (scene.exact(scene.vertices) if scene.exact is not None
                       else supersampled_image(scene, scene.vertices, factor)).detach()
        for loss_name, loss in (("linear", linear_loss(weights)), ("iou", iou_loss(shifted_target(scene)))):
            if scene.exact is not None:
                vertices = scene.vertices.clone().requires_grad_(True)
                loss(scene.exact(vertices)).backward()
                truth, bars = vertices.grad, None
            else:
                truth, bars = finite_difference_derivatives(scene, loss, factor)
            lit = scene.light.get("light_intensity_directional", 0.0) > 0 and loss_name == "linear"
            light_truth = _light_truth(scene, loss, factor) if lit else None
            for label, (name, options, calls) in configs.items():
                renderer = renderers.create(name, image_size=image_size, silhouette_only=scene.silhouette_only,
                                            **options, **scene.light)
                grad, light_grad, image, seconds = _gradients(renderer, scene, loss, calls)
                if scene.directions is not None:
                    estimate = (grad[0][None] * scene.directions).flatten(1).sum(1)
                else:
                    estimate = grad
                cos, rel = _metrics(estimate, truth)
                row = dict(scene=scene.name, loss=loss_name, renderer=label, cos=cos, rel_l2=rel,
                           truth_error_bar=float(bars.norm() / truth.norm()) if bars is not None else 0.0,
                           light_rel_l2=_metrics(light_grad, light_truth)[1] if lit else math.nan,
                           fwd_err=float((image - truth_image).abs().mean()), ms=seconds * 1e3 * calls,
                           rotation_motion=math.nan)
                if scene.name == "illumination":
                    row["rotation_motion"] = float(abs(estimate[0] - truth[0]) / abs(truth[1]))
                rows.append(row)
            print(f"  measured {scene.name} / {loss_name}", file=sys.stderr, flush=True)
    return rows


# --------------------------------------------------------------------------------------------
# Shadow scenes
# --------------------------------------------------------------------------------------------

SHADOW_EDGE_SAMPLES = 4096  # primary boundary samples of every edge row, shadowed or not
SHADOW_MEAN_CALLS = 16
SHADOW_FD_SAMPLES_PER_PIXEL = 64  # the finite-difference truth's forward
SHADOW_FD_LIGHT_STEP = 1e-2  # the normalised direction curves: larger steps add O(h^2) bias
SHADOW_FWD_TRUTH_SEEDS = 32  # seeds averaged for the self-shadow scene's reference image
VIEWING_ANGLE = 15.0


@dataclasses.dataclass
class ShadowCase:
    """A shadow scene with the loss ``sum(weights * image)`` and its true gradient.

    vertex_truth: the whole world-vertex gradient ``(1, V, 3)`` (exact scene) or the derivatives
    ``(K,)`` along ``directions (K, V, 3)`` (finite-difference scene); light_truth: the gradient
    ``(3,)`` with respect to the light direction, or the derivative ``()`` along ``light_turn (3,)``;
    eye_truth: the camera-position gradient ``(1, 3)`` or None; the error bars are relative
    standard errors of the finite-difference truth (0 for the exact scene)."""

    name: str
    vertices: torch.Tensor
    faces: torch.Tensor
    eye: torch.Tensor
    textures: torch.Tensor
    direction: torch.Tensor
    ambient: float
    directional: float
    weights: torch.Tensor
    truth_image: torch.Tensor
    vertex_truth: torch.Tensor
    light_truth: torch.Tensor
    eye_truth: torch.Tensor | None = None
    directions: torch.Tensor | None = None
    light_turn: torch.Tensor | None = None
    truth_error_bar: float = 0.0
    light_truth_error_bar: float = 0.0


def _exact_shadow_case(image_size: int) -> ShadowCase:
    scene = shadow_truth_scene(image_size)
    gen = torch.Generator().manual_seed(0)
    weights = torch.randn(1, 4, image_size, image_size, generator=gen, dtype=torch.float64)
    vertices = scene.vertices.clone().requires_grad_(True)
    direction = scene.light_direction.clone().requires_grad_(True)
    eye = scene.eye.clone().requires_grad_(True)
    image = scene.exact(vertices, direction, eye)
    (image * weights).sum().backward()
    return ShadowCase("shadow", scene.vertices, scene.faces, scene.eye, scene.textures, scene.light_direction,
                      scene.ambient_intensity, scene.directional_intensity, weights, image.detach(), vertices.grad,
                      direction.grad, eye.grad)


def _self_shadow_case(image_size: int, seeds: int) -> ShadowCase:
    """The sphere over the ground with its finite-difference truth (see the module docstring)."""
    scene = sphere_over_ground(batch=1)
    vertices, faces, eye, textures = (scene[k] for k in ("vertices", "faces", "eye", "textures"))
    light = scene["direction"][0]
    weights = smooth_weights(image_size)
    gen = torch.Generator().manual_seed(9)
    moves = []
    for _ in range(2):  # random affine deformations of the whole scene (as in the test)
        a = torch.randn(3, 3, generator=gen, dtype=torch.float64) * 0.3
        moves.append(vertices[0] @ a.T + torch.randn(3, generator=gen, dtype=torch.float64))
    lift = torch.zeros_like(vertices[0])
    lift[: scene["sphere"], 1] = 1.0  # the sphere alone, up: its shadow slides over the ground
    moves.append(lift)
    directions = torch.stack(moves)
    directions = directions / directions.pow(2).sum(2).mean(1).sqrt()[:, None, None]  # RMS displacement 1
    turn = torch.linalg.cross(light, torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    turn = turn / turn.norm()
    pixel = 2.0 * 2.732 * math.tan(math.radians(VIEWING_ANGLE)) / image_size  # world size at the origin
    step, light_step = 2.0 / 3.0 * pixel, SHADOW_FD_LIGHT_STEP
    renderer = renderers.create("edge", image_size=image_size, shadows=True,
                                samples_per_pixel=SHADOW_FD_SAMPLES_PER_PIXEL)

    def render(v: torch.Tensor, d: torch.Tensor, seed: int) -> torch.Tensor:
        lights = renderers.Lighting(ambient_intensity=0.4, directional_intensity=0.6, direction=d)
        return renderer(v, faces, eye, textures, lights=lights, seed=seed)

    def loss(v: torch.Tensor, d: torch.Tensor, seed: int) -> float:
        return float((render(v, d, seed) * weights).sum())

    # (seed, step h or 2h, direction): the 2h differences give the step's own error, as for the
    # finite-difference scenes of renderers.fidelity.truth
    fd = torch.zeros(seeds, 2, directions.shape[0] + 1, dtype=torch.float64)
    with torch.no_grad():
        for seed in range(seeds):  # common random numbers: both sides of a difference share the seed
            for j, scale in enumerate((1.0, 2.0)):
                h, hl = scale * step, scale * light_step
                for k, dv in enumerate(directions):
                    fd[seed, j, k] = (loss(vertices + h * dv, light, seed) - loss(vertices - h * dv, light, seed)) / (2 * h)
                fd[seed, j, -1] = (loss(vertices, light + hl * turn, seed) - loss(vertices, light - hl * turn, seed)) / (2 * hl)
        truth_image = sum(render(vertices, light, 100_000 + s) for s in range(SHADOW_FWD_TRUTH_SEEDS))
        truth_image = truth_image / SHADOW_FWD_TRUTH_SEEDS
    truth = fd[:, 0].mean(0)
    noise = fd[:, 0].std(0) / math.sqrt(seeds)  # standard error of the seed mean
    step_error = (fd[:, 0].mean(0) - fd[:, 1].mean(0)).abs()  # difference from the step-2h estimate
    error = (noise.square() + step_error.square()).sqrt()
    print(f"  self-shadow truth: relative standard error {float(noise[:-1].norm() / truth[:-1].norm()):.4f} (vertex "
          f"directions), {float(noise[-1] / truth[-1].abs()):.4f} (light); step h vs 2h "
          f"{float(step_error[:-1].norm() / truth[:-1].norm()):.4f}, {float(step_error[-1] / truth[-1].abs()):.4f}",
          file=sys.stderr, flush=True)
    return ShadowCase("self-shadow", vertices, faces, eye, textures, light, 0.4, 0.6, weights, truth_image,
                      truth[:-1], truth[-1], None, directions, turn,
                      truth_error_bar=float(error[:-1].norm() / truth[:-1].norm()),
                      light_truth_error_bar=float(error[-1] / truth[-1].abs()))


def shadow_configs(image_size: int) -> dict[str, tuple[str, dict, int]]:
    """label -> (registered name, options, calls averaged per gradient) for the shadow scenes."""
    pixels = image_size * image_size
    edge = dict(edge_samples=SHADOW_EDGE_SAMPLES)
    mean = f"mean of {SHADOW_MEAN_CALLS}"
    configs: dict[str, tuple[str, dict, int]] = {}
    for budget, what in ((pixels, "S*S"), (4 * pixels, "4*S*S")):
        options = dict(edge, shadows=True, shadow_samples=budget)
        configs[f"edge shadows K={budget} ({what})"] = ("edge", options, 1)
        configs[f"edge shadows K={budget} ({what}) {mean}"] = ("edge", options, SHADOW_MEAN_CALLS)
    options = dict(edge, shadows=True, shadow_samples=0)
    configs["edge shadows K=0 (no secondary term)"] = ("edge", options, 1)
    configs[f"edge shadows K=0 (no secondary term) {mean}"] = ("edge", options, SHADOW_MEAN_CALLS)
    configs[f"edge N={SHADOW_EDGE_SAMPLES} (no shadows)"] = ("edge", edge, 1)
    configs[f"edge N={SHADOW_EDGE_SAMPLES} {mean} (no shadows)"] = ("edge", edge, SHADOW_MEAN_CALLS)
    configs["softras sigma=1e-4 (no shadows)"] = ("softras", dict(sigma=1e-4, gamma=1e-4), 1)
    configs["nmr (no shadows)"] = ("nmr", {}, 1)
    configs["opendr (no shadows)"] = ("opendr", {}, 1)
    missing = sorted(set(renderers.available()) - {name for name, _, _ in configs.values()})
    for name in missing:  # a newly registered renderer is measured with its defaults (no shadows)
        configs[f"{name} (no shadows)"] = (name, {}, 1)
    return configs


def _shadow_gradients(renderer, case: ShadowCase, calls: int):
    """Means over ``calls`` of the world-vertex, light-direction and eye gradients of
    ``sum(weights * image)``, the last image and the median time of one forward + backward."""
    grads, light_grads, eye_grads, seconds = [], [], [], []
    image = None
    for call in range(calls):
        vertices = case.vertices.clone().requires_grad_(True)
        direction = case.direction.clone().requires_grad_(True)
        eye = case.eye.clone().requires_grad_(True)
        lights = renderers.Lighting(ambient_intensity=case.ambient, directional_intensity=case.directional,
                                    direction=direction)
        kwargs = {"seed": 1000 + call} if renderer.name == "edge" else {}
        start = time.perf_counter()
        image = renderer(vertices, case.faces, eye, case.textures, lights=lights, **kwargs)
        (image * case.weights).sum().backward()
        seconds.append(time.perf_counter() - start)
        grads.append(vertices.grad)
        light_grads.append(direction.grad if direction.grad is not None else torch.zeros_like(direction))
        eye_grads.append(eye.grad if eye.grad is not None else torch.zeros_like(eye))
    return (torch.stack(grads).mean(0), torch.stack(light_grads).mean(0), torch.stack(eye_grads).mean(0),
            image.detach(), statistics.median(seconds))


def measure_shadows(image_size: int, fd_seeds: int) -> list[dict]:
    rows = []
    configs = shadow_configs(image_size)
    for case in (_exact_shadow_case(image_size), _self_shadow_case(image_size, fd_seeds)):
        for label, (name, options, calls) in configs.items():
            renderer = renderers.create(name, image_size=image_size, **options)
            grad, light_grad, eye_grad, image, seconds = _shadow_gradients(renderer, case, calls)
            if case.directions is not None:
                estimate = (grad[0][None] * case.directions).flatten(1).sum(1)
                light_estimate = light_grad @ case.light_turn
            else:
                estimate, light_estimate = grad, light_grad
            cos, rel = _metrics(estimate, case.vertex_truth)
            rows.append(dict(scene=case.name, loss="linear", renderer=label, shadows=bool(options.get("shadows", False)),
                             cos=cos, rel_l2=rel, truth_error_bar=case.truth_error_bar,
                             light_rel_l2=_metrics(light_estimate, case.light_truth)[1],
                             light_truth_error_bar=case.light_truth_error_bar,
                             eye_rel_l2=_metrics(eye_grad, case.eye_truth)[1] if case.eye_truth is not None else math.nan,
                             fwd_err=float((image - case.truth_image).abs().mean()), ms=seconds * 1e3 * calls))
        print(f"  measured {case.name}", file=sys.stderr, flush=True)
    return rows


def _shadow_summary(rows: list[dict]) -> str:
    """Per renderer, the shadow scene's (exact truth) and the self-shadow scene's (finite
    differences) errors side by side, and the median time per gradient over both."""
    labels = list(dict.fromkeys(r["renderer"] for r in rows))
    lines = ["| renderer | shadow: rel_l2 | cos | light | eye | fwd err | self-shadow: rel_l2 | cos | light | fwd err | ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def cells(row: dict | None, eye: bool) -> str:
        if row is None:
            return " - | - | - |" + (" - |" if eye else "") + " - |"
        out = f" {float(row['rel_l2']):.3f} | {float(row['cos']):.3f} | {float(row['light_rel_l2']):.3f} |"
        if eye:
            out += f" {float(row['eye_rel_l2']):.3f} |"
        return out + f" {float(row['fwd_err']):.4f} |"

    for label in labels:
        mine = {r["scene"]: r for r in rows if r["renderer"] == label}
        ms = statistics.median(float(r["ms"]) for r in mine.values())
        lines.append(f"| {label} |{cells(mine.get('shadow'), True)}{cells(mine.get('self-shadow'), False)} {ms:.1f} |")
    bars = [r for r in rows if r["scene"] == "self-shadow"][:1]
    if bars:
        lines.append(f"\nself-shadow truth (finite differences) error bar, relative (standard error and step h vs 2h in "
                     f"quadrature): {float(bars[0]['truth_error_bar']):.4f} (vertex directions), "
                     f"{float(bars[0]['light_truth_error_bar']):.4f} (light turn)")
    return "\n".join(lines)


def pose_rows(image_size: int, starts: int) -> list[dict]:
    configs = {}
    for label, (name, options, calls) in renderer_configs().items():
        if calls != 1 or (name == "softras" and options.get("gamma", 1e-4) != 1e-4):
            continue
        if name == "edge" and options.get("edge_samples") not in (1024, 4096):
            continue
        if name == "softras" and options["sigma"] not in (1e-5, 1e-4, 1e-3):
            continue
        configs[label] = (lambda name=name, options=options: lambda image_size: renderers.create(
            name, image_size=image_size, **options))()
    magnitudes = [(0.05, 10.0), (0.3, 60.0), (0.5, 90.0)]
    return pose.pose_recovery_table(configs, magnitudes, starts, image_size=image_size)


def _csv_bytes(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _summary(rows: list[dict]) -> str:
    """Per renderer, means over scenes of the relative L2 error (closed-form and finite-difference
    scenes apart, each loss), the smallest cosine, the light-gradient error, the illumination
    scene's apparent motion, the forward error and the median time per gradient."""
    closed = {r["scene"] for r in rows if float(r["truth_error_bar"]) == 0.0}
    labels = list(dict.fromkeys(r["renderer"] for r in rows))
    lines = ["| renderer | exact, linear | exact, IoU | FD, linear | FD, IoU | min cos | light | rotation | fwd err | ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label in labels:
        mine = [r for r in rows if r["renderer"] == label]

        def mean(loss_name: str, exact: bool) -> float:
            return statistics.fmean(float(r["rel_l2"]) for r in mine if r["loss"] == loss_name and (r["scene"] in closed) == exact)

        light = [float(r["light_rel_l2"]) for r in mine if not math.isnan(float(r["light_rel_l2"]))]
        rotation = [float(r["rotation_motion"]) for r in mine
                    if not math.isnan(float(r["rotation_motion"])) and r["loss"] == "linear"]
        lines.append(f"| {label} | {mean('linear', True):.3f} | {mean('iou', True):.3f} | {mean('linear', False):.3f} | "
                     f"{mean('iou', False):.3f} | {min(float(r['cos']) for r in mine):.2f} | {statistics.fmean(light):.3f} | "
                     f"{rotation[0]:.3f} | {statistics.fmean(float(r['fwd_err']) for r in mine):.4f} | "
                     f"{statistics.median(float(r['ms']) for r in mine):.1f} |")
    return "\n".join(lines)


def _pose_summary(rows: list[dict]) -> str:
    lines = ["| renderer | offset (t, deg) | success | median t err | median r err (deg) | s/run |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['renderer']} | {r['translation_offset']:g}, {r['rotation_offset_deg']:g} | {r['success_rate']:.2f} "
                     f"| {r['median_translation_error']:.4f} | {r['median_rotation_error_deg']:.2f} | {r['seconds_per_run']:.2f} |")
    return "\n".join(lines)


def _plot(rows: list[dict], path: Path) -> None:
    """Left: edge sampling's single-call error against its budget, on the closed-form scenes (exact
    truth) and on the finite-difference scenes (whose truth has its own error bar). Right:
    SoftRas's error against sigma. NMR and OpenDR as horizontal lines (medians over all scenes)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    closed = {r["scene"] for r in rows if float(r["truth_error_bar"]) == 0.0}

    def median_error(label: str, loss_name: str, scenes=None) -> float:
        """The mean over the selected scenes (a median would hide the occlusion scene behind the two
        scenes that edge sampling integrates exactly)."""
        return statistics.fmean(float(r["rel_l2"]) for r in rows if r["renderer"] == label and r["loss"] == loss_name
                                and (scenes is None or (r["scene"] in closed) == scenes))

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for loss_name, marker in (("linear", "o"), ("iou", "s")):
        for scenes, style, what in ((True, "-", "closed-form scenes"), (False, "--", "finite-difference scenes")):
            axes[0].loglog(EDGE_BUDGETS, [median_error(f"edge N={n}", loss_name, scenes) for n in EDGE_BUDGETS],
                           style + marker, label=f"edge, {loss_name}, {what}")
        axes[1].loglog(SOFTRAS_SIGMAS, [median_error(f"softras sigma={s:g}", loss_name) for s in SOFTRAS_SIGMAS],
                       "-" + marker, label=f"softras, {loss_name}, all scenes")
    first = median_error(f"edge N={EDGE_BUDGETS[0]}", "linear", True)
    axes[0].loglog(EDGE_BUDGETS, [first * math.sqrt(EDGE_BUDGETS[0] / n) for n in EDGE_BUDGETS], ":", color="grey",
                   label="1/sqrt(N)")
    for label, colour in (("nmr", "tab:red"), ("opendr", "tab:purple")):
        value = statistics.fmean(float(r["rel_l2"]) for r in rows if r["renderer"] == label)
        for ax in axes:
            ax.axhline(value, color=colour, lw=0.8, label=f"{label} (mean, all scenes)")
    axes[0].set_xlabel("edge samples per image (single call)")
    axes[1].set_xlabel("SoftRas sigma")
    axes[0].set_ylabel("relative L2 gradient error (mean)")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    axes[0].set_ylim(bottom=1e-4)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    write_bytes_atomic(path, buffer.getvalue())


def _print_shadows(rows: list[dict], image_size: int) -> None:
    print(f"\nShadow scenes ({image_size}px, linear loss): relative L2 error of the world-vertex gradient (self-shadow:\n"
          "of the derivatives along the finite-difference directions), its cosine, the light-direction and camera\n"
          "errors, against the shadowed truth; '(no shadows)': rendered unshadowed. K: shadow_samples;\n"
          f"every edge row {SHADOW_EDGE_SAMPLES} primary boundary samples, 4 area samples per pixel. Per-scene values "
          "in shadow_fidelity.csv:\n")
    print(_shadow_summary(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--factor", type=int, default=32, help="supersampling of the finite-difference truth")
    parser.add_argument("--pose-starts", type=int, default=4, help="starting offsets per magnitude")
    parser.add_argument("--pose-size", type=int, default=64)
    parser.add_argument("--skip-pose", action="store_true")
    parser.add_argument("--shadows-only", action="store_true",
                        help="measure only the shadow scenes (writes shadow_fidelity.csv alone)")
    parser.add_argument("--shadow-fd-seeds", type=int, default=256,
                        help="seeds averaged by the self-shadow scene's finite-difference truth")
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    parser.add_argument("--plot-only", action="store_true", help="redraw the figure from the CSV in --out")
    args = parser.parse_args()
    if args.plot_only:
        with open(args.out / "gradient_fidelity.csv") as f:
            rows = list(csv.DictReader(f))
        _plot(rows, args.out / "gradient_fidelity.png")
        print(_summary(rows))
        if (args.out / "shadow_fidelity.csv").exists():
            with open(args.out / "shadow_fidelity.csv") as f:
                print("\n" + _shadow_summary(list(csv.DictReader(f))))
        return
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; image {args.image_size}px, "
          f"finite-difference truth supersampled {args.factor}x; self-shadow truth over {args.shadow_fd_seeds} seeds")
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.shadows_only:
        rows = measure(args.image_size, args.factor)
        write_bytes_atomic(args.out / "gradient_fidelity.csv", _csv_bytes(rows))
        _plot(rows, args.out / "gradient_fidelity.png")
        print("\nRelative L2 error of the world-vertex gradient against the truth, means over the closed-form (exact)\n"
              "and finite-difference (FD) scenes; per-scene values in gradient_fidelity.csv:\n")
        print(_summary(rows))
    srows = measure_shadows(args.image_size, args.shadow_fd_seeds)
    write_bytes_atomic(args.out / "shadow_fidelity.csv", _csv_bytes(srows))
    _print_shadows(srows, args.image_size)
    if not args.skip_pose and not args.shadows_only:
        prows = pose_rows(args.pose_size, args.pose_starts)
        write_bytes_atomic(args.out / "pose_recovery.csv", _csv_bytes(prows))
        print(f"\nPose recovery ({args.pose_starts} starts per offset, {pose.DEFAULT_STEPS} Adam steps, "
              f"{args.pose_size}px, success: t err < {pose.SUCCESS_TRANSLATION}, r err < {pose.SUCCESS_ROTATION_DEG} deg):\n")
        print(_pose_summary(prows))

if __name__ == "__main__":
    main()
