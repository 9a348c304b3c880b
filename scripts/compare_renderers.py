#!/usr/bin/env python
"""Trains the quickstart experiment through every registered renderer, for several seeds.

Each run is ``recon-train experiment=quickstart renderer=<name> seed=<s>`` (the same steps, data
and model for all; the built-in synthetic data set is generated first if missing), in its own
subprocess. It reports per renderer the mean and spread (sample standard deviation) over seeds
of the validation and test 3D IoU (x100, mean over classes) of the model training evaluates
(``evaluate_checkpoint``: the final model by default, as the references do; ``evaluated`` says
which), and the wall time per run. Writes
``renderer_comparison.csv`` (one row per run) into ``--out`` atomically and prints a Markdown
table.

    python scripts/compare_renderers.py                       # all renderers, seeds 0 1 2
    python scripts/compare_renderers.py --renderers edge,nmr --seeds 0 --steps 100
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def worker(renderer: str, seed: int, steps: int | None, out_dir: Path) -> dict:
    from hydra import compose, initialize_config_dir  # noqa: PLC0415
    from hydra.core.hydra_config import HydraConfig  # noqa: PLC0415
    from omegaconf import open_dict  # noqa: PLC0415

    from recon.hydra_utils import CONFIG_DIR, set_project_root  # noqa: PLC0415
    from recon.train import train  # noqa: PLC0415

    set_project_root()
    overrides = ["experiment=quickstart", f"renderer={renderer}", f"seed={seed}", "logger=csv",
                 "extras.print_config=false", f"paths.output_dir={out_dir}", f"paths.log_dir={out_dir}/logs",
                 "callbacks.rich_progress_bar=null"]
    if steps is not None:
        overrides.append(f"trainer.max_steps={steps}")
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    HydraConfig().set_config(cfg)  # so that ${hydra:...} resolves, as under the CLI
    with open_dict(cfg):
        del cfg["hydra"]
    start = time.perf_counter()
    metrics, objects = train(cfg)
    seconds = time.perf_counter() - start
    evaluated = json.loads((out_dir / "results.json").read_text())["evaluated"]
    return dict(renderer=renderer, seed=seed, steps=int(objects["trainer"].global_step),
                val_iou=100 * float(metrics.get("val/iou/mean", float("nan"))),
                test_iou=100 * float(metrics.get("test/iou/mean", float("nan"))),
                evaluated=evaluated, seconds=seconds)


def main() -> None:
    import renderers  # noqa: PLC0415
    from recon.atomic_io import write_bytes_atomic  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renderers", default=",".join(renderers.available()))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None, help="override the quickstart's 600 steps")
    parser.add_argument("--out", type=Path, default=ROOT / "logs" / "renderer_comparison")
    parser.add_argument("--worker", nargs=2, metavar=("RENDERER", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_dir = args.out / f"{args.worker[0]}_seed{args.worker[1]}"
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.steps, run_dir)))
        return
    rows = []
    env = dict(os.environ, WANDB_MODE=os.environ.get("WANDB_MODE", "disabled"))
    for name in [n.strip() for n in args.renderers.split(",") if n.strip()]:
        for seed in args.seeds:
            command = [sys.executable, __file__, "--worker", name, str(seed), "--out", str(args.out)]
            if args.steps is not None:
                command += ["--steps", str(args.steps)]
            done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
            if done.returncode != 0:
                print(done.stderr[-4000:], file=sys.stderr)
                raise SystemExit(f"training {name} seed {seed} failed")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"  {name} seed {seed}: val {r['val_iou']:.1f} test {r['test_iou']:.1f} "
                  f"({r['evaluated']}, {r['seconds']:.0f} s)", file=sys.stderr, flush=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(args.out / "renderer_comparison.csv", buffer.getvalue().encode())

    def spread(values: list[float]) -> str:
        mean = statistics.fmean(values)
        return f"{mean:.1f} ± {statistics.stdev(values):.1f}" if len(values) > 1 else f"{mean:.1f}"

    print(f"\n| renderer | val IoU | test IoU | s per run | evaluated |\n|---|---:|---:|---:|---|")
    for name in dict.fromkeys(r["renderer"] for r in rows):
        mine = [r for r in rows if r["renderer"] == name]
        checkpoints = ", ".join(sorted({r["evaluated"] for r in mine}))
        print(f"| {name} | {spread([r['val_iou'] for r in mine])} | {spread([r['test_iou'] for r in mine])} | "
              f"{statistics.fmean(r['seconds'] for r in mine):.0f} | {checkpoints} |")
    print(f"\n{len(args.seeds)} seeds ({', '.join(map(str, args.seeds))}); mean ± sample standard deviation; IoU x100.")


if __name__ == "__main__":
    main()
