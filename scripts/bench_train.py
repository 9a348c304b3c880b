#!/usr/bin/env python
"""Training-iteration benchmark of the published recipe on this machine's CPU.

One iteration = batch of 64 objects (two views each), both images of every pair
reconstructed (128 encoder/decoder passes), each mesh rendered from both cameras (four
SoftRas silhouettes per object: aa, ba, ab, bb at 64x64, sigma 1e-4, dist_eps 1e-10), the
soft IoU loss plus the Laplacian and flatten regularizers, an Adam step. The iteration is
split into stages timed separately (autograd is cut between stages with detached leaves,
so each backward is charged to its own stage):

  data               next batch from the DataLoader (synthetic ShapeNet-format data)
  encoder/decoder    network forward + backward
  renderer           SoftRas forward + backward
  loss               silhouette IoU + regularizers, forward + backward
  optimizer          Adam step (26 M parameters)

The end-to-end row is the same iteration through ``ReconstructionModule.training_losses``
without the cuts, measured in the same run, as the baseline the stages must add up to; the
bf16-mixed row is that iteration under CPU autocast to bfloat16 (``trainer.precision=
bf16-mixed``: network in bfloat16, renderer and losses in float32), as a ratio to it. The
last row is the per-step recording cost of the NaN/Inf guard (``recon/nan_guard.py``: its four
hooks on the model's real gradients, no host sync), as a share of the end-to-end iteration.

    python scripts/bench_train.py                # batch 64, 2 warm-up + 5 timed iterations
    python scripts/bench_train.py --batch 32 --repeats 10
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from recon.data.datamodule import RendersDataModule
from recon.data.synthetic import ensure_synthetic
from recon.losses import silhouette_iou_loss
from recon.module import ReconstructionModule

RECIPE_RENDERER = {"name": "softras", "image_size": 64, "viewing_angle": 15.0, "sigma": 1e-4, "dist_eps": 1e-10,
                   "aggr_rgb": "hard"}
STAGES = ("data", "encoder/decoder", "renderer", "loss", "optimizer")


def staged_iteration(module: ReconstructionModule, optimizer: torch.optim.Optimizer, batches) -> dict[str, float]:
    times = {}
    t = time.perf_counter()
    batch = next(batches)
    times["data"] = time.perf_counter() - t

    t = time.perf_counter()
    prediction = module.net(torch.cat([batch["images_a"], batch["images_b"]]))
    network_forward = time.perf_counter() - t

    t = time.perf_counter()
    vertices = prediction.vertices.detach().repeat(2, 1, 1).requires_grad_()
    eye = torch.cat([batch["eye_a"], batch["eye_a"], batch["eye_b"], batch["eye_b"]])
    rendered = module.renderer(vertices, prediction.faces, eye)
    render_forward = time.perf_counter() - t

    t = time.perf_counter()
    silhouettes = rendered.detach().requires_grad_()
    leaf = prediction.vertices.detach().requires_grad_()
    targets = torch.cat([batch["images_a"], batch["images_a"], batch["images_b"], batch["images_b"]])[:, 3]
    weights = module.loss_weights
    loss = silhouette_iou_loss(silhouettes[:, 3], targets) + weights["laplacian"] * module.laplacian_loss(leaf) \
        + weights["flatten"] * module.flatten_loss(leaf)
    loss.backward()
    times["loss"] = time.perf_counter() - t

    t = time.perf_counter()
    rendered.backward(silhouettes.grad)
    times["renderer"] = render_forward + time.perf_counter() - t

    t = time.perf_counter()
    grad = leaf.grad + vertices.grad.view(2, *leaf.shape).sum(0)
    prediction.vertices.backward(grad)
    times["encoder/decoder"] = network_forward + time.perf_counter() - t

    t = time.perf_counter()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    times["optimizer"] = time.perf_counter() - t
    return times


def end_to_end_iteration(module: ReconstructionModule, optimizer: torch.optim.Optimizer, batches,
                         bf16: bool = False) -> float:
    """One whole training step; ``bf16``: as under ``trainer.precision=bf16-mixed`` (Lightning's
    CPU autocast to bfloat16 around the step; the module keeps the renderer and losses float32)."""
    t = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = module.training_losses(next(batches))["total"]
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - t


def guard_step_time(module: ReconstructionModule, batch: dict, repeats: int) -> float:
    """Median time of one training step's NonFiniteGuard hooks (recording only: checks are off)."""
    from types import SimpleNamespace  # noqa: PLC0415

    from recon.nan_guard import NonFiniteGuard  # noqa: PLC0415

    for p in module.parameters():
        p.grad = torch.randn_like(p)
    guard = NonFiniteGuard(check_every=10**9)
    trainer = SimpleNamespace(global_step=0, current_epoch=0, log_every_n_steps=10**9, world_size=1,
                              precision_plugin=SimpleNamespace(scaler=None))
    loss = torch.tensor(0.5)
    times = []
    for i in range(repeats + 1):
        trainer.global_step = i
        t = time.perf_counter()
        guard.on_train_batch_start(trainer, module, batch, i)
        guard.on_before_backward(trainer, module, loss)
        guard.on_before_optimizer_step(trainer, module, None)
        guard.on_train_batch_end(trainer, module, None, batch, i)
        times.append(time.perf_counter() - t)
    module.zero_grad(set_to_none=True)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64, help="objects per batch (the recipe: 64)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", default="datasets/synthetic")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ensure_synthetic(args.data, progress=False)
    datamodule = RendersDataModule(args.data, batch_size=args.batch, num_workers=0,
                                    iterations_per_epoch=10 * (args.warmup + args.repeats))
    batches = iter(datamodule.train_dataloader())
    torch.manual_seed(0)
    module = ReconstructionModule(renderer=RECIPE_RENDERER, category_names=datamodule.category_names).train()
    optimizer = torch.optim.Adam(module.net.parameters(), lr=1e-4)

    staged: dict[str, list[float]] = {s: [] for s in STAGES}
    whole: list[float] = []
    whole_bf16: list[float] = []
    for i in range(args.warmup + args.repeats):  # interleaved, so drift hits every row alike
        times = staged_iteration(module, optimizer, batches)
        whole_time = end_to_end_iteration(module, optimizer, batches)
        bf16_time = end_to_end_iteration(module, optimizer, batches, bf16=True)
        if i >= args.warmup:
            for s in STAGES:
                staged[s].append(times[s])
            whole.append(whole_time)
            whole_bf16.append(bf16_time)

    medians = {s: statistics.median(v) for s, v in staged.items()}
    total = sum(medians.values())
    print(f"\nTraining iteration, batch {args.batch} objects x 4 renders, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}\n")
    print(f"{'stage':<22}{'ms/iter':>10}{'share':>9}")
    for s in STAGES:
        print(f"{s:<22}{1e3 * medians[s]:>10.1f}{100 * medians[s] / total:>8.1f}%")
    print(f"{'sum of stages':<22}{1e3 * total:>10.1f}{100.0:>8.1f}%")
    e2e = statistics.median(whole)
    print(f"{'end-to-end (baseline)':<22}{1e3 * e2e:>10.1f}{'':>9}  sum/end-to-end = {total / e2e:.2f}")
    bf16 = statistics.median(whole_bf16)
    print(f"{'end-to-end bf16-mixed':<22}{1e3 * bf16:>10.1f}{'':>9}  bf16-mixed/fp32 = {bf16 / e2e:.2f}")
    guard = guard_step_time(module, next(batches), max(args.repeats, 5))
    print(f"{'NaN/Inf guard':<22}{1e3 * guard:>10.1f}{'':>9}  guard/end-to-end = {guard / e2e:.4f}")
    share = medians["renderer"] / total
    print(f"\nrenderer share {100 * share:.1f}% (target <= 30%): {'met' if share <= 0.30 else 'NOT met'}")


if __name__ == "__main__":
    main()
