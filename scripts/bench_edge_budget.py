#!/usr/bin/env python
"""Edge sampling on the training workload: gradient error and time against the sample budget.

Workload (a) of ``bench_renderers.py``: perturbed spheres (642 vertices / 1280 faces) at the
dataset camera, 64x64, silhouette only, loss ``1 - IoU`` against the same meshes shifted by
(0.03, 0.02, 0) (about one pixel), as in training. For each ``samples_per_pixel`` x
``edge_samples``:

* ``error``: single-call relative L2 error of the world-vertex gradient (8 images), mean over
  ``--calls`` calls, against the truth: the mean of ``--truth-calls`` calls at 16 area samples
  and 16384 boundary samples per image (its own noise is printed: the difference between two
  independent halves);
* ``fwd`` / ``bwd``: median times per image over a batch of 64 (the kernels alone: the projected
  faces are prepared once), and their sum.

Then the bias of the non-linear loss: IoU's adjoint is computed from the noisy forward, so the
expected gradient at n area samples differs from the gradient of the expected image by O(1/n);
measured as the difference of seed means (``--truth-calls`` calls each) at 1 and 4 samples from
the mean at 16.

``--shadows`` measures instead edge sampling with shadows against its secondary budget, on the
exact shadow scene (:func:`renderers.fidelity.shadow.shadow_truth_scene`, ``--shadow-size``
(64) pixels: a triangle over a ground quad, whose exact box-filtered image autograd
differentiates), loss ``sum(W * I)`` with white-noise W, 4 area samples per pixel and S*S
primary boundary samples: for ``shadow_samples`` K in (0, S*S/16, S*S/4, S*S, 4*S*S, 16*S*S),

* the single-call relative L2 error of the gradient with respect to (vertices, light direction,
  eye) together and per part, mean over ``--shadow-calls`` calls (K = 0 drops the secondary
  term: its error is the bias);
* ``light bias``: the light part's error of the mean over the calls (the bias, plus the
  single-call noise over sqrt(calls));
* ``sec noise``: the secondary term's own spread on the light part: every budget uses the same
  seeds and the secondary samples have their own random stream (``kStreamShadow``), so the
  gradient at K minus the gradient at K = 0 with the same seed is the secondary term alone; its
  standard deviation over the calls, relative to the true light gradient;
* ``fwd`` / ``bwd``: median time per call (one image, through ``renderer(...)``);

then the ratios error(K) / error(4K) of the light part (the part that only the secondary term
and the cosine move) and of its secondary noise. Independent samples would give 2 (error
~ 1/sqrt(K)); the secondary samples are stratified along the concatenated silhouette edges
(one per stratum), which gives up to 4 (~ 1/K) once the strata are finer than the pieces of the
integrand; the light error levels off where the area samples' noise (the K = 0 spread) dominates.

    python scripts/bench_edge_budget.py
    python scripts/bench_edge_budget.py --shadows      # the shadow section only (~30 s)
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import renderers  # noqa: E402
from bench_renderers import WORKLOADS, build_scene  # noqa: E402
from recon.losses import silhouette_iou_loss  # noqa: E402
from renderers._ext import extension  # noqa: E402
from renderers.camera import project  # noqa: E402
from renderers.edge import kernel_params  # noqa: E402
from renderers.fidelity.shadow import shadow_truth_scene  # noqa: E402
from renderers.lighting import gather_face_vertices  # noqa: E402
from renderers.topology import edge_table  # noqa: E402

SHIFT = (0.03, 0.02, 0.0)


def gradient_error_table(calls: int, truth_calls: int) -> tuple[list[dict], float, dict]:
    vertices, faces, eye, _ = build_scene(WORKLOADS["a"], 8)
    vertices, eye = vertices.double(), eye.double()
    target = renderers.create("edge", image_size=64, silhouette_only=True, samples_per_pixel=64, seed=0)(
        vertices + torch.tensor(SHIFT, dtype=torch.float64), faces, eye)[:, 3].detach()

    def gradient(renderer, seed: int) -> torch.Tensor:
        x = vertices.clone().requires_grad_(True)
        silhouette_iou_loss(renderer(x, faces, eye, seed=seed)[:, 3], target).backward()
        return x.grad

    def mean(spp: int, budget: int, count: int, base: int) -> torch.Tensor:
        r = renderers.create("edge", image_size=64, silhouette_only=True, samples_per_pixel=spp, edge_samples=budget)
        return sum(gradient(r, base + i) for i in range(count)) / count

    half_a, half_b = mean(16, 16384, truth_calls // 2, 10_000), mean(16, 16384, truth_calls - truth_calls // 2, 20_000)
    truth = (half_a + half_b) / 2
    truth_noise = float((half_a - half_b).norm() / truth.norm()) / 2  # the mean's error is half the halves' difference
    rows = []
    for spp in (1, 4):
        for budget in (1024, 2048, 4096, 8192):
            r = renderers.create("edge", image_size=64, silhouette_only=True, samples_per_pixel=spp, edge_samples=budget)
            errors = [float((gradient(r, 30_000 + i) - truth).norm() / truth.norm()) for i in range(calls)]
            rows.append(dict(spp=spp, budget=budget, error=statistics.fmean(errors)))
    bias = {}
    for spp in (1, 4):
        bias[spp] = float((mean(spp, 16384, truth_calls, 40_000 + 1000 * spp) - truth).norm() / truth.norm())
    return rows, truth_noise, bias


def timing(spp: int, budget: int, repeats: int) -> tuple[float, float]:
    vertices, faces, eye, _ = build_scene(WORKLOADS["a"], 64)
    face_screen = gather_face_vertices(project(vertices, eye, 15.0), faces[None].expand(64, -1, -1)).contiguous()
    edges = edge_table(faces)
    params = kernel_params(64, None, samples_per_pixel=spp, edge_samples=budget, seed=3)
    grad = torch.randn(64, 4, 64, 64, generator=torch.Generator().manual_seed(1))
    empty = face_screen.new_empty(0)

    def median_ms(fn) -> float:
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        return statistics.median(samples) * 1e3 / 64

    forward = median_ms(lambda: extension().edge_forward(face_screen, empty, params))
    _, sample_face = extension().edge_forward(face_screen, empty, params)
    backward = median_ms(lambda: extension().edge_backward(face_screen, empty, edges, sample_face, grad, params))
    return forward, backward


#: slices of the shadow scene's flattened gradient: triangle and ground vertices, light, camera
SHADOW_PARTS = {"all": slice(None), "vertices": slice(0, 21), "light": slice(21, 24), "eye": slice(24, 27)}


def shadow_budget_table(size: int, calls: int) -> list[dict]:
    """Rows per shadow budget K: mean single-call errors per part, the light's bias and secondary
    noise, median fwd / bwd ms per call (see the module docstring)."""
    scene = shadow_truth_scene(size)
    weights = torch.randn(1, 4, size, size, generator=torch.Generator().manual_seed(11), dtype=torch.float64)

    def leaves():
        return (scene.vertices.clone().requires_grad_(True), scene.light_direction.clone().requires_grad_(True),
                scene.eye.clone().requires_grad_(True))

    vertices, direction, eye = leaves()
    (scene.exact(vertices, direction, eye) * weights).sum().backward()
    truth = torch.cat((vertices.grad.flatten(), direction.grad, eye.grad.flatten()))
    light = SHADOW_PARTS["light"]
    rows, base = [], None
    pixels = size * size
    for budget in (0, pixels // 16, pixels // 4, pixels, 4 * pixels, 16 * pixels):
        renderer = renderers.create("edge", image_size=size, shadows=True, samples_per_pixel=4, shadow_samples=budget)
        grads, forward, backward = [], [], []
        for call in range(calls):
            vertices, direction, eye = leaves()
            lights = renderers.Lighting(ambient_intensity=scene.ambient_intensity,
                                        directional_intensity=scene.directional_intensity, direction=direction)
            start = time.perf_counter()
            image = renderer(vertices, scene.faces, eye, scene.textures, lights=lights, seed=50_000 + call)
            middle = time.perf_counter()
            (image * weights).sum().backward()
            forward.append(middle - start)
            backward.append(time.perf_counter() - middle)
            grads.append(torch.cat((vertices.grad.flatten(), direction.grad, eye.grad.flatten())))
        grads = torch.stack(grads)
        row = dict(budget=budget)
        for name, part in SHADOW_PARTS.items():
            errors = (grads[:, part] - truth[part]).norm(dim=1) / truth[part].norm()
            row[name] = float(errors.mean())
        scale = float(truth[light].norm())
        row["light_bias"] = float((grads[:, light].mean(0) - truth[light]).norm()) / scale
        # the same seeds at every budget, and the secondary samples have their own random stream, so
        # the difference from the K = 0 gradient of the same seed is the secondary term alone
        base = grads if base is None else base
        row["secondary_noise"] = float((grads - base)[:, light].var(0).sum().sqrt()) / scale if budget else math.nan
        row["light_spread"] = float(grads[:, light].var(0).sum().sqrt()) / scale
        row["fwd"] = statistics.median(forward) * 1e3
        row["bwd"] = statistics.median(backward) * 1e3
        rows.append(row)
    return rows


def print_shadow_table(size: int, calls: int) -> None:
    print(f"shadow scene (triangle over a ground quad, exact truth), {size}x{size}, 4 area samples per pixel, "
          f"{size * size} primary boundary samples; errors: mean of {calls} single calls")
    rows = shadow_budget_table(size, calls)
    print(f"{'shadow_samples':>14} {'all':>8} {'vertices':>8} {'light':>8} {'eye':>8} {'light bias':>10} "
          f"{'sec noise':>9} {'fwd ms':>8} {'bwd ms':>8} {'f+b ms':>8}")
    for row in rows:
        print(f"{row['budget']:>14} {row['all']:>8.4f} {row['vertices']:>8.4f} {row['light']:>8.4f} {row['eye']:>8.4f} "
              f"{row['light_bias']:>10.4f} {row['secondary_noise']:>9.4f} {row['fwd']:>8.2f} {row['bwd']:>8.2f} "
              f"{row['fwd'] + row['bwd']:>8.2f}")
    print("\nlight part, error(K) / error(4K) (independent samples: 2; stratified: up to 4):")
    print(f"{'K -> 4K':>16} {'light error':>12} {'sec noise':>10}")
    positive = [row for row in rows if row["budget"] > 0]
    for low, high in zip(positive, positive[1:]):
        if high["budget"] != 4 * low["budget"]:
            continue
        print(f"{low['budget']:>7} -> {high['budget']:<6} {low['light'] / high['light']:>12.2f} "
              f"{low['secondary_noise'] / high['secondary_noise']:>10.2f}")
    print(f"the light part's spread without the secondary term (K = 0: the area samples, through the cosine), its floor: "
          f"{rows[0]['light_spread']:.4f}")
    print("(K = 0: no secondary term, the error is its bias; 'light bias': error of the mean over the calls;\n"
          " 'sec noise': spread over the calls of the light gradient at K minus that at K = 0 with the same seed,\n"
          "  relative to the true light gradient)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10, help="single calls averaged per error")
    parser.add_argument("--truth-calls", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--shadows", action="store_true",
                        help="measure edge sampling with shadows against shadow_samples instead (exact shadow scene)")
    parser.add_argument("--shadow-size", type=int, default=64, help="image size of the shadow section")
    parser.add_argument("--shadow-calls", type=int, default=32, help="single calls per shadow budget")
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    if args.shadows:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        print_shadow_table(args.shadow_size, args.shadow_calls)
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; workload (a), IoU loss, shift {SHIFT}")
    rows, noise, bias = gradient_error_table(args.calls, args.truth_calls)
    print(f"truth: mean of {args.truth_calls} calls at 16 area / 16384 boundary samples; its own error ~{noise:.4f}\n")
    print(f"{'area spp':>8} {'edge_samples':>12} {'error':>8} {'fwd ms':>8} {'bwd ms':>8} {'f+b ms':>8}")
    for row in rows:
        forward, backward = timing(row["spp"], row["budget"], args.repeats)
        print(f"{row['spp']:>8} {row['budget']:>12} {row['error']:>8.4f} {forward:>8.3f} {backward:>8.3f} "
              f"{forward + backward:>8.3f}")
    print("\nnon-linear loss bias (expected gradient at n area samples vs at 16):")
    for spp, value in bias.items():
        print(f"  n = {spp}: {value:.4f} (relative L2; includes the truth's own ~{noise:.4f} and the mean's noise)")


if __name__ == "__main__":
    main()
