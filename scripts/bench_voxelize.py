#!/usr/bin/env python
"""Time the protocol voxelizer (32^3) on 1280-face icospheres, like predicted meshes.

Prints a markdown table of milliseconds per mesh for several batch sizes.

    python scripts/bench_voxelize.py --repeats 5
"""
from __future__ import annotations

import argparse
import time

import torch


def icosphere(level: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    import trimesh

    s = trimesh.creation.icosphere(subdivisions=level, radius=1.0)
    return torch.tensor(s.vertices, dtype=torch.float32), torch.tensor(s.faces, dtype=torch.long)


def predicted_like(v: torch.Tensor, batch: int, seed: int = 0) -> torch.Tensor:
    """Random smooth deformations of the unit sphere squeezed into (-0.5, 0.5)."""
    g = torch.Generator().manual_seed(seed)
    freq = torch.randn(batch, 1, 3, generator=g) * 2
    bump = 1 + 0.3 * torch.sin((v.unsqueeze(0) * freq).sum(-1, keepdim=True) * 3)
    scale = 0.25 + 0.2 * torch.rand(batch, 1, 3, generator=g)
    return (v.unsqueeze(0) * bump * scale).clamp(-0.499, 0.499)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64, 128])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    from recon.evaluation.voxelize import voxelize

    v, f = icosphere()
    print(f"mesh: {len(v)} vertices, {len(f)} faces; grid 32^3; torch threads {torch.get_num_threads()}")
    print("| batch | ms / call (best) | ms / mesh |\n|---:|---:|---:|")
    for b in a.batches:
        verts = predicted_like(v, b)
        voxelize(verts, f)  # warm-up
        best = float("inf")
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            voxelize(verts, f)
            best = min(best, time.perf_counter() - t0)
        print(f"| {b} | {best * 1e3:.1f} | {best * 1e3 / b:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
