"""Iterating a large split never loads it: anonymous memory stays flat."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from torch.utils.data import DataLoader

from recon.data.npz_writer import NpzStreamWriter
from recon.data.sampling import ClassBalancedPairSampler
from recon.data.render_datasets import EvalViews, RenderSplit, TrainPairs
from recon.data.render_layouts import images_path, voxels_path

REPO = Path(__file__).resolve().parents[3]


def rss_anon_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status")


def test_iterating_a_split_keeps_anonymous_memory_flat(tmp_path):
    n = 800  # 315 MiB of images
    rng = np.random.default_rng(0)
    block = rng.integers(0, 256, (50, 24, 4, 64, 64), dtype=np.uint8)
    with NpzStreamWriter(images_path(tmp_path, "91000000", "val"), (n, 24, 4, 64, 64), np.uint8) as w:
        for _ in range(0, n, 50):
            w.write(block)
    with NpzStreamWriter(voxels_path(tmp_path, "91000000", "val"), (n, 32, 32, 32), bool) as w:
        w.write(np.zeros((n, 32, 32, 32), bool))
    renders = RenderSplit(tmp_path, "val")
    before = rss_anon_mib()
    total = 0.0
    for b in DataLoader(EvalViews(renders, views=[0, 7, 13, 23]), batch_size=128):
        total += float(b["images"][:, 3].mean())
    sampler = ClassBalancedPairSampler(renders.objects_per_category, 6000, seed=0)
    for b in DataLoader(TrainPairs(renders), batch_size=64, sampler=sampler):
        total += float(b["images_a"][:, 0].mean())
    grown = rss_anon_mib() - before
    assert total > 0
    assert grown < 100, f"anonymous memory grew by {grown:.0f} MiB while reading a 315 MiB split"


@pytest.mark.slow
def test_large_split_benchmark_under_2gib():
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_data_memory.py"), "--objects", "6000",
                        "--iterations", "500", "--eval-views", "0", "6", "--random"],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS" in r.stdout
