"""ShapeNetCore -> the ShapeNet renders format (``{synset}_{split}_images.npz`` / ``_voxels.npz``).

For every model of every requested split: load the ``.obj`` with all its materials,
normalise (centred, largest side 1), render the 24 dataset views
(:func:`recon.data.render_views.render_dataset_views`) and voxelize at 32^3 with the
evaluation voxelizer. Each finished model is saved atomically as a part file under
``{out}/.parts/{synset}_{split}/``; an interrupted run started again skips every model
whose part exists. When a category/split is complete its parts are streamed (bounded
memory) into the two npz files (uncompressed, memory-mappable), the model ids go to
``{synset}_{split}_ids.txt``, and the parts are deleted. Models that fail to load are
reported in ``{out}/failed.txt`` and left out.

Console entry point: ``recon-convert --shapenet PATH --splits all.csv --out DIR``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from recon.data.categories import SHAPENET_CATEGORIES, SPLITS
from recon.data.npz_writer import NpzStreamWriter
from recon.data.render_views import RenderFn, render_dataset_views
from recon.data.shapenetcore import load_model, model_path, read_splits
from recon.data.sources import images_path, voxels_path
from recon.evaluation.voxelize import voxelize

PARTS = ".parts"


def part_path(out: Path, synset: str, split: str, model: str) -> Path:
    return out / PARTS / f"{synset}_{split}" / f"{model}.npz"


def convert_one(shapenet: str, out: str, synset: str, split: str, model: str,
                render_fn: RenderFn | None = None) -> str:
    """Convert one model into its part file (atomic). Returns the model id."""
    mesh = load_model(model_path(shapenet, synset, model))
    images = render_dataset_views(mesh, render_fn)
    voxels = voxelize(mesh.vertices, mesh.faces)[0].numpy()
    target = part_path(Path(out), synset, split, model)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, images=images, voxels=voxels)
    os.replace(tmp, target)
    return model


def _worker_init() -> None:
    import torch  # noqa: PLC0415

    torch.set_num_threads(1)


def assemble(out: Path, synset: str, split: str, models: Sequence[str], compress: bool = False) -> None:
    """Stream the part files of ``models`` (in order) into the split's two npz files."""
    n = len(models)
    with NpzStreamWriter(images_path(out, synset, split), (n, 24, 4, 64, 64), np.uint8, compress) as wi, \
            NpzStreamWriter(voxels_path(out, synset, split), (n, 32, 32, 32), np.bool_, compress) as wv:
        for m in models:
            with np.load(part_path(out, synset, split, m)) as z:
                wi.write(z["images"][None])
                wv.write(z["voxels"][None])
    tmp = out / f".{synset}_{split}_ids.txt.tmp"
    tmp.write_text("".join(f"{m}\n" for m in models))
    os.replace(tmp, out / f"{synset}_{split}_ids.txt")


def convert(shapenet: str | os.PathLike, splits_file: str | os.PathLike, out: str | os.PathLike,
            categories: Sequence[str] | None = None, splits: Sequence[str] = SPLITS,
            workers: int = 0, render_fn: RenderFn | None = None, keep_parts: bool = False,
            compress: bool = False, progress: bool = True, max_models: int | None = None) -> dict:
    """Convert ``shapenet`` into ``out``; resumable. ``workers=0`` converts in this process,
    ``workers>=1`` in that many spawned processes (``render_fn`` must then be picklable).
    ``max_models`` (per category and split) is for quick trials. Returns
    ``{"converted": int, "skipped": int, "failed": [(synset, split, model, error)]}``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = read_splits(splits_file)
    cats = list(categories) if categories else sorted({c for s in splits for c in table.get(s, {})})
    jobs, plan, skipped = [], {}, 0
    for split in splits:
        for synset in cats:
            models = table.get(split, {}).get(synset, [])[:max_models]
            if not models:
                continue
            plan[(synset, split)] = models
            if images_path(out, synset, split).is_file() and voxels_path(out, synset, split).is_file():
                skipped += len(models)
                continue
            for m in models:
                if part_path(out, synset, split, m).is_file():
                    skipped += 1
                else:
                    jobs.append((synset, split, m))
    failed: list[tuple[str, str, str, str]] = []
    bar = tqdm(total=len(jobs), desc="recon-convert", unit="model", disable=not progress)
    if workers <= 0:
        for synset, split, m in jobs:
            try:
                convert_one(str(shapenet), str(out), synset, split, m, render_fn)
            except (ValueError, FileNotFoundError) as exc:
                failed.append((synset, split, m, str(exc)))
            bar.update(1)
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                                 initializer=_worker_init) as pool:
            futures = {pool.submit(convert_one, str(shapenet), str(out), s, sp, m, render_fn): (s, sp, m)
                       for s, sp, m in jobs}
            for fut in as_completed(futures):
                try:
                    fut.result()
                except (ValueError, FileNotFoundError) as exc:
                    failed.append((*futures[fut], str(exc)))
                bar.update(1)
    bar.close()
    bad = {(s, sp, m) for s, sp, m, _ in failed}
    for (synset, split), models in plan.items():
        if images_path(out, synset, split).is_file() and voxels_path(out, synset, split).is_file():
            continue
        done = [m for m in models if (synset, split, m) not in bad]
        assemble(out, synset, split, done, compress=compress)
        if not keep_parts:
            shutil.rmtree(out / PARTS / f"{synset}_{split}", ignore_errors=True)
    if not keep_parts and (out / PARTS).is_dir() and not any((out / PARTS).iterdir()):
        (out / PARTS).rmdir()
    if failed:
        with open(out / "failed.txt", "a") as f:
            for row in failed:
                f.write("\t".join(row) + "\n")
    return {"converted": len(jobs) - len(failed), "skipped": skipped, "failed": failed}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="recon-convert", description=__doc__.split("\n\n")[0])
    p.add_argument("--shapenet", required=True, help="ShapeNetCore v1 or v2 root folder")
    p.add_argument("--splits", required=True,
                   help="split lists: ShapeNet all.csv, or a folder of {synset}_{split}.lst / {split}.lst")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--categories", nargs="+", default=None, metavar="SYNSET",
                   help="synsets to convert (default: all in the split lists), e.g. "
                        + " ".join(list(SHAPENET_CATEGORIES)[:3]) + " ...")
    p.add_argument("--split-names", nargs="+", default=list(SPLITS), help="splits (default: %(default)s)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="worker processes, 0 = in-process (default: %(default)s)")
    p.add_argument("--max-models", type=int, default=None, help="at most this many models per category/split")
    p.add_argument("--compress", action="store_true", help="deflate the npz files (not memory-mappable)")
    p.add_argument("--keep-parts", action="store_true", help="keep the per-model part files")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    try:
        r = convert(a.shapenet, a.splits, a.out, a.categories, a.split_names, a.workers,
                    keep_parts=a.keep_parts, compress=a.compress, progress=not a.no_progress,
                    max_models=a.max_models)
    except (FileNotFoundError, ValueError) as exc:
        print(f"recon-convert: error: {exc}", file=sys.stderr)
        return 2
    print(f"converted {r['converted']}, skipped (already done) {r['skipped']}, failed {len(r['failed'])}")
    for s, sp, m, err in r["failed"][:20]:
        print(f"  failed {s}/{m} ({sp}): {err}", file=sys.stderr)
    return 1 if r["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
