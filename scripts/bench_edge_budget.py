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

    python scripts/bench_edge_budget.py
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10, help="single calls averaged per error")
    parser.add_argument("--truth-calls", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
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
