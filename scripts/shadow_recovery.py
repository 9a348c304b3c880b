#!/usr/bin/env python
"""Shadow recovery: an object's height and the light's direction, from one shadowed image.

A worked example of the edge-sampling renderer with ``shadows=True``. The scene: an orange box
(side 0.3) floating above a grey ground quad (normal +y), lit by the directional light at an angle
and seen from straight above by a distant, narrow camera (eye 16 units above the origin, half field
of view 3.75 degrees). From there the box shows only its top face (normal +y, like the ground), so
the box's own image barely depends on its height (a slight perspective scaling), and the visible
shading depends on the light's elevation but not on its azimuth. The shadow is what carries the
information: it lies ``height / tan(elevation)`` away from the box, on the side away from the light.

Two tasks, each by Adam on the RGB L2 loss against a target rendered with the true values:

* ``recover_height``: the box's height above the ground (one scalar, translating the box along +y);
* ``recover_light``: the light's direction, parametrised by its elevation and azimuth
  (:func:`renderers.camera.points_from_angles` with distance 1).

Each runs twice: with the secondary boundary term (the renderer's default ``shadow_samples``: an
unbiased gradient through the shadow) and with ``shadow_samples=0`` (the gradient misses the
shadow's moving boundary; the rest of the image's gradient is kept). Every step draws fresh
samples (seed = the step), so the optimisation is stochastic gradient descent with fixed seeds.

Prints a table (task, secondary term, start error, final error) and writes one figure,
``shadow_recovery.png`` in ``--out`` (default ``docs/figures``): per task, the start, the target,
the result with the secondary term and the result without it, and the parameter error against
the step. Files are written atomically.

    python scripts/shadow_recovery.py                        # ~15 s (one thread)
    python scripts/shadow_recovery.py --steps 100 --image-size 32 --out /tmp/figures
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import math
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import renderers  # noqa: E402
from recon.atomic_io import write_bytes_atomic  # noqa: E402

DTYPE = torch.float64
BOX_SIZE = 0.3
GROUND_HALF = 1.2
BOX_COLOR = (0.9, 0.45, 0.2)
GROUND_COLOR = (0.85, 0.85, 0.8)
AMBIENT = 0.35
DIRECTIONAL = 0.65
CAMERA_DISTANCE = 16.0
# half field of view, degrees: the ground's middle 2.1 x 2.1 fills the image
VIEWING_ANGLE = math.degrees(math.atan(1.05 / CAMERA_DISTANCE))
TARGET_SEED = 1_000_003
TARGET_SAMPLES_PER_PIXEL = 16

TRUE_HEIGHT = 0.5  # of the box's bottom above the ground
START_HEIGHT = 0.25
TRUE_LIGHT = (50.0, 30.0)  # (elevation, azimuth) in degrees
START_LIGHT = (65.0, -10.0)
LIGHT_FOR_HEIGHT = TRUE_LIGHT


@dataclasses.dataclass
class Scene:
    """The box over the ground: world vertices with the box's bottom at height 0 (``(1, 12, 3)``,
    box first), faces ``(14, 3)``, flat colours ``(1, 14, 1, 3)`` and the camera ``(1, 3)``."""

    vertices: torch.Tensor
    faces: torch.Tensor
    textures: torch.Tensor
    eye: torch.Tensor
    box_vertices: int = 8


def make_scene() -> Scene:
    import trimesh

    box = trimesh.creation.box(extents=(BOX_SIZE,) * 3)  # outward-wound, centred at the origin
    box_v = torch.tensor(box.vertices, dtype=DTYPE) + torch.tensor([0.0, BOX_SIZE / 2, 0.0], dtype=DTYPE)
    box_f = torch.tensor(box.faces, dtype=torch.long)
    g = GROUND_HALF
    ground_v = torch.tensor([[-g, 0.0, -g], [-g, 0.0, g], [g, 0.0, g], [g, 0.0, -g]], dtype=DTYPE)
    ground_f = torch.tensor([[0, 1, 2], [0, 2, 3]]) + box_v.shape[0]  # normal +y, toward the light
    faces = torch.cat((box_f, ground_f))
    colors = [BOX_COLOR] * box_f.shape[0] + [GROUND_COLOR] * ground_f.shape[0]
    textures = torch.tensor(colors, dtype=DTYPE)[None, :, None, :]
    # straight above (the camera handles the degenerate up vector); the image's up is world +z
    eye = renderers.points_from_angles(CAMERA_DISTANCE, torch.tensor([90.0], dtype=DTYPE), 0.0)
    return Scene(torch.cat((box_v, ground_v))[None], faces, textures, eye, box_v.shape[0])


def light_from_angles(angles_deg: torch.Tensor) -> torch.Tensor:
    """Unit direction toward the light ``(3,)`` from ``(elevation, azimuth)`` in degrees."""
    return renderers.points_from_angles(1.0, angles_deg[0], angles_deg[1])


def angle_between(a: torch.Tensor, b: torch.Tensor) -> float:
    """Angle in degrees between two directions."""
    cos = float((a @ b) / (a.norm() * b.norm()))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def render(scene: Scene, height: torch.Tensor, direction: torch.Tensor, image_size: int, *, seed: int,
           shadow_samples: int | None = None, samples_per_pixel: int = 4) -> torch.Tensor:
    """RGBA ``(1, 4, S, S)`` with the box lifted by ``height`` and the light toward ``direction``;
    differentiable in both."""
    renderer = renderers.create("edge", image_size=image_size, viewing_angle=VIEWING_ANGLE, shadows=True,
                                shadow_samples=shadow_samples, samples_per_pixel=samples_per_pixel)
    lift = torch.zeros_like(scene.vertices)
    lift[:, : scene.box_vertices, 1] = 1.0
    vertices = scene.vertices + lift * height
    lights = renderers.Lighting(ambient_intensity=AMBIENT, directional_intensity=DIRECTIONAL, direction=direction)
    return renderer(vertices, scene.faces, scene.eye, scene.textures, lights=lights, seed=seed)


def _target(scene: Scene, image_size: int) -> torch.Tensor:
    direction = light_from_angles(torch.tensor(TRUE_LIGHT, dtype=DTYPE))
    with torch.no_grad():
        return render(scene, torch.tensor(TRUE_HEIGHT, dtype=DTYPE), direction, image_size, seed=TARGET_SEED,
                      samples_per_pixel=TARGET_SAMPLES_PER_PIXEL)


def _optimise(params: torch.Tensor, image_fn, error_fn, target: torch.Tensor, steps: int, lr: float) -> dict:
    """Adam on the RGB L2 loss, the learning rate decaying exponentially to a tenth; returns the
    history (errors and losses per step, the start and final images)."""
    optimizer = torch.optim.Adam([params], lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.1 ** (step / max(steps, 1)))
    errors, losses = [error_fn()], []
    with torch.no_grad():
        start_image = image_fn(0)[0, :3].clone()
    for step in range(steps):
        optimizer.zero_grad()
        image = image_fn(step + 1)
        loss = (image[:, :3] - target[:, :3]).square().mean()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        errors.append(error_fn())
    with torch.no_grad():
        final_image = image_fn(steps + 1)[0, :3].clone()
    return dict(errors=errors, losses=losses, start_image=start_image, final_image=final_image,
                target_image=target[0, :3].clone(), final=params.detach().clone())


def recover_height(steps: int = 150, image_size: int = 64, *, shadow_samples: int | None = None,
                   start: float = START_HEIGHT, lr: float = 0.02, scene: Scene | None = None) -> dict:
    """Recovers the box's height (true :data:`TRUE_HEIGHT`) from ``start``, the light known.

    ``shadow_samples=None``: the renderer's default secondary term; ``0``: none. Returns a dict:
    ``errors`` (|height - true| before each step and after the last, ``steps + 1`` values),
    ``losses``, ``final`` (the height), ``start_image``, ``target_image``, ``final_image``
    (``(3, S, S)``)."""
    scene = make_scene() if scene is None else scene
    target = _target(scene, image_size)
    direction = light_from_angles(torch.tensor(LIGHT_FOR_HEIGHT, dtype=DTYPE))
    height = torch.tensor(start, dtype=DTYPE, requires_grad=True)

    def image_fn(seed: int) -> torch.Tensor:
        return render(scene, height, direction, image_size, seed=seed, shadow_samples=shadow_samples)

    return _optimise(height, image_fn, lambda: abs(float(height.detach()) - TRUE_HEIGHT), target, steps, lr)


def recover_light(steps: int = 150, image_size: int = 64, *, shadow_samples: int | None = None,
                  start: tuple[float, float] = START_LIGHT, lr: float = 2.0, scene: Scene | None = None) -> dict:
    """Recovers the light's (elevation, azimuth) in degrees (true :data:`TRUE_LIGHT`) from
    ``start``, the box's height known. As :func:`recover_height`; ``errors`` are the angles in
    degrees between the estimated and the true direction, ``final`` the two angles."""
    scene = make_scene() if scene is None else scene
    target = _target(scene, image_size)
    true_direction = light_from_angles(torch.tensor(TRUE_LIGHT, dtype=DTYPE))
    angles = torch.tensor(start, dtype=DTYPE, requires_grad=True)
    height = torch.tensor(TRUE_HEIGHT, dtype=DTYPE)

    def image_fn(seed: int) -> torch.Tensor:
        return render(scene, height, light_from_angles(angles), image_size, seed=seed, shadow_samples=shadow_samples)

    def error_fn() -> float:
        return angle_between(light_from_angles(angles.detach()), true_direction)

    return _optimise(angles, image_fn, error_fn, target, steps, lr)


TASKS = {
    "height": (recover_height, "height error"),
    "light": (recover_light, "light direction error (deg)"),
}


def run_all(steps: int, image_size: int) -> dict:
    """``{(task, with_secondary): history}`` for both tasks, with and without the secondary term."""
    scene = make_scene()
    return {(task, secondary): fn(steps, image_size, shadow_samples=None if secondary else 0, scene=scene)
            for task, (fn, _) in TASKS.items() for secondary in (True, False)}


def table(results: dict) -> str:
    lines = [f"{'task':<8} {'secondary term':<15} {'start error':>12} {'final error':>12}  final value",
             "-" * 70]
    for (task, secondary), history in results.items():
        final = history["final"]
        value = (f"height {float(final):.4f} (true {TRUE_HEIGHT})" if task == "height" else
                 f"elev {float(final[0]):.2f}, azim {float(final[1]):.2f} (true {TRUE_LIGHT[0]:g}, {TRUE_LIGHT[1]:g})")
        unit = "" if task == "height" else " deg"
        lines.append(f"{task:<8} {'with' if secondary else 'without (=0)':<15} "
                     f"{history['errors'][0]:>8.3g}{unit:<4} {history['errors'][-1]:>8.3g}{unit:<4}  {value}")
    return "\n".join(lines)


def _picture(image: torch.Tensor):
    return image.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def figure(results: dict, path: Path) -> None:
    """One PNG: per task a row of start / target / result (with) / result (without) and the error plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(TASKS), 5, figsize=(15, 3.3 * len(TASKS)),
                             gridspec_kw=dict(width_ratios=[1, 1, 1, 1, 1.6]))
    for row, (task, (_, ylabel)) in enumerate(TASKS.items()):
        with_term, without = results[(task, True)], results[(task, False)]
        panels = [("start", with_term["start_image"]), ("target", with_term["target_image"]),
                  (f"result, secondary term\nerror {with_term['errors'][-1]:.3g}", with_term["final_image"]),
                  (f"result, shadow_samples=0\nerror {without['errors'][-1]:.3g}", without["final_image"])]
        for col, (title, image) in enumerate(panels):
            ax = axes[row, col]
            ax.imshow(_picture(image), interpolation="nearest")
            ax.set_title(f"{task}: {title}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        ax = axes[row, 4]
        ax.semilogy(with_term["errors"], label="with secondary term")
        ax.semilogy(without["errors"], label="shadow_samples=0")
        ax.set_xlabel("Adam step")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, buffer.getvalue())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    parser.add_argument("--steps", type=int, default=150, help="Adam steps per optimisation")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (the renders are small: one is as fast, and not slowed by busy cores)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, min(args.threads, os.cpu_count() or 1)))
    torch.manual_seed(0)
    results = run_all(args.steps, args.image_size)
    print(f"Shadow recovery, {args.image_size}px, {args.steps} Adam steps (true height {TRUE_HEIGHT}, start "
          f"{START_HEIGHT}; true light elevation/azimuth {TRUE_LIGHT}, start {START_LIGHT} deg):\n")
    print(table(results))
    path = args.out / "shadow_recovery.png"
    figure(results, path)
    print(f"\nwrote {path}")
    return results


if __name__ == "__main__":
    main()
