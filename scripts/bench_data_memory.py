#!/usr/bin/env python
"""Peak anonymous memory while iterating a large split (the loader never loads a split).

Writes a large split in the exact ShapeNet-renders format (streamed to disk with bounded
memory: objects of the synthetic generator, or random patterns with ``--random``), then
iterates it with :class:`recon.data.datamodule.RendersDataModule` (workers included)
while a thread samples ``RssAnon`` / ``RssFile`` of this process and of its worker
processes from ``/proc``. Anonymous memory is what a process really owns; mapped
dataset pages are file-backed and reclaimable.

    python scripts/bench_data_memory.py --objects 12000 --workers 2
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _rollup_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except FileNotFoundError:
        pass
    return out


class MemorySampler(threading.Thread):
    """Samples memory (MiB) of this process and its descendants (DataLoader workers).

    ``RssAnon`` of forked workers also counts the copy-on-write pages they share with the
    parent, so their sum overstates; ``Pss_Anon`` (smaps_rollup) splits shared pages
    between sharers, so its sum is the true anonymous total.
    """

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_total_anon = self.peak_main_anon = self.peak_file = self.peak_pss_anon = 0.0
        self.peak_worker_anon = 0.0
        self._stop_event = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self._stop_event.is_set():
            pids = [me]
            i = 0
            while i < len(pids):
                pids += _children(pids[i])
                i += 1
            anon = [_status_kb(p, "RssAnon") / 1024 for p in pids]
            self.peak_main_anon = max(self.peak_main_anon, anon[0])
            self.peak_worker_anon = max([self.peak_worker_anon] + anon[1:])
            pss = sum(_rollup_kb(p, "Pss_Anon") for p in pids) / 1024
            self.peak_pss_anon = max(self.peak_pss_anon, pss)
            self.peak_total_anon = max(self.peak_total_anon, sum(anon))
            self.peak_file = max(self.peak_file, sum(_status_kb(p, "RssFile") / 1024 for p in pids))
            time.sleep(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def write_large_split(root: Path, objects: int, categories: int, random: bool, seed: int = 0) -> int:
    """Stream ``objects`` objects (spread over ``categories``) into ``root``; returns bytes."""
    from recon.data.npz_writer import NpzStreamWriter
    from recon.data.render_layouts import images_path, voxels_path

    rng = np.random.default_rng(seed)
    if random:
        base_im = rng.integers(0, 256, (32, 24, 4, 64, 64), dtype=np.uint8)
        base_vox = rng.random((32, 32, 32, 32)) < 0.2
    else:
        from recon.data.render_datasets import RenderSplit
        from recon.data.synthetic import generate  # real synthetic objects, re-used cyclically

        src = root / "_base"
        generate(src, seed=seed, objects_per_class={"val": 8}, splits=("val",), progress=False)
        r = RenderSplit(src, "val")
        base_im = np.concatenate([s._images.array for s in r.sources])
        base_vox = np.concatenate([s._voxels.array for s in r.sources])
    per_cat = objects // categories
    total = 0
    for c in range(categories):
        syn = f"9100{c:04d}"
        with NpzStreamWriter(images_path(root, syn, "train"), (per_cat, 24, 4, 64, 64), np.uint8) as wi, \
                NpzStreamWriter(voxels_path(root, syn, "train"), (per_cat, 32, 32, 32), np.bool_) as wv:
            for start in range(0, per_cat, len(base_im)):
                n = min(len(base_im), per_cat - start)
                wi.write(np.roll(base_im[:n], start + c, axis=0))
                wv.write(np.roll(base_vox[:n], start + c, axis=0))
        total += per_cat * (24 * 4 * 64 * 64 + 32 ** 3)
    return total


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--objects", type=int, default=12000, help="objects in the split (default: %(default)s)")
    p.add_argument("--categories", type=int, default=4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--iterations", type=int, default=1500, help="training batches to draw")
    p.add_argument("--eval-views", type=int, nargs="*", default=None,
                   help="views of the full evaluation pass (default: all 24)")
    p.add_argument("--random", action="store_true", help="random pixels instead of synthetic objects")
    p.add_argument("--dir", default=None, help="where to write the split (default: a temp dir, removed)")
    a = p.parse_args()

    from recon.data.datamodule import RendersDataModule

    root = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix="bench_data_memory_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        nbytes = write_large_split(root, a.objects, a.categories, a.random)
        print(f"wrote {a.objects} objects, {nbytes / 2**30:.2f} GiB in {time.perf_counter() - t0:.1f} s "
              f"to {root}")
        dm = RendersDataModule(root, categories=[f"9100{c:04d}" for c in range(a.categories)],
                                batch_size=a.batch_size, num_workers=a.workers,
                                iterations_per_epoch=a.iterations, train_split="train",
                                val_split="train", eval_views=a.eval_views)
        sampler = MemorySampler()
        sampler.start()
        base = _status_kb(os.getpid(), "RssAnon") / 1024
        dm.setup("fit")
        t0 = time.perf_counter()
        n = 0
        for b in dm.train_dataloader():
            n += b["images_a"].shape[0]
        t_train = time.perf_counter() - t0
        t0 = time.perf_counter()
        m = 0
        checksum = 0.0
        for b in dm.val_dataloader():
            m += b["images"].shape[0]
            checksum += float(b["images"][:, 3].mean())
        t_eval = time.perf_counter() - t0
        sampler.stop()
        print(f"training: {n} samples ({a.iterations} batches) in {t_train:.1f} s; "
              f"evaluation: {m} samples (every object, {len(dm.eval_dataset('val').views)} views) "
              f"in {t_eval:.1f} s")
        print(f"anonymous memory before iterating (main): {base:.0f} MiB")
        print(f"peak RssAnon, main process:                      {sampler.peak_main_anon:.0f} MiB")
        print(f"peak RssAnon, any one worker:                    {sampler.peak_worker_anon:.0f} MiB")
        print(f"peak sum of Pss_Anon, main + {a.workers} workers:          {sampler.peak_pss_anon:.0f} MiB")
        print(f"peak sum of RssAnon, main + workers (overcounts): {sampler.peak_total_anon:.0f} MiB")
        print(f"peak file-backed RSS (mapped data, reclaimable):  {sampler.peak_file:.0f} MiB")
        print(f"split size on disk: {nbytes / 2**20:.0f} MiB  (what loading it whole would cost)")
        ok = max(sampler.peak_main_anon, sampler.peak_worker_anon, sampler.peak_pss_anon) < 2048
        print("PASS: under 2 GiB" if ok else "FAIL: over 2 GiB")
        return 0 if ok else 1
    finally:
        if not a.dir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
