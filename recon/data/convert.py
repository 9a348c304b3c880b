"""ShapeNetCore -> the ShapeNet renders format (``{synset}_{split}_images.npz`` / ``_voxels.npz``).

For every model of every requested split: load the ``.obj`` with all its materials,
normalise (centred, largest side 1), render the 24 dataset views
(:func:`recon.data.render_views.render_dataset_views`) and voxelize at 32^3 with the
evaluation voxelizer. Each finished model is saved atomically as a part file under
``{out}/.parts/{synset}_{split}/``. When a category/split is complete its parts are
streamed (bounded memory) into the two npz files (uncompressed, memory-mappable; each
published under its final name only when complete), the model ids go to
``{synset}_{split}_ids.txt``, the split is recorded in ``{out}/convert.json`` (its model
list and the size and CRC-32 of its three files), and only then are the parts deleted.
Models that fail to load are reported in ``{out}/failed.txt`` and left out; a split whose
every model failed is not written.

Interrupted (Ctrl-C, SIGKILL, power loss) and started again with the same arguments, a run
deletes the killed run's temporary files, skips every split recorded in ``convert.json``
with the same model list and intact files, skips every part file that loads with the
right shapes (a damaged one is converted again) and converts the rest.

Console entry point: ``recon-convert --shapenet PATH --splits all.csv --out DIR``.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import zipfile
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from recon.atomic_io import write_text_atomic
from recon.data.categories import SHAPENET_CATEGORIES, SPLITS
from recon.data.manifest import (ManifestError, file_record, read_manifest, record_problem,
                                 remove_temp_files, write_manifest)
from recon.data.npz_array import DatasetFormatError, NpzArray
from recon.data.npz_writer import NpzStreamWriter
from recon.data.render_views import RenderFn, render_dataset_views
from recon.data.shapenetcore_models import load_model, model_path, read_splits
from recon.data.render_layouts import images_path, voxels_path
from recon.evaluation.voxelize import voxelize

PARTS = ".parts"
MANIFEST = "convert.json"
FORMAT_VERSION = 1

log = logging.getLogger(__name__)


def part_path(out: Path, synset: str, split: str, model: str) -> Path:
    return out / PARTS / f"{synset}_{split}" / f"{model}.npz"


def ids_path(out: Path, synset: str, split: str) -> Path:
    return out / f"{synset}_{split}_ids.txt"


def split_files(out: Path, synset: str, split: str) -> list[Path]:
    """The three outputs of one category/split: images, voxels, model ids."""
    return [images_path(out, synset, split), voxels_path(out, synset, split), ids_path(out, synset, split)]


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


def part_problem(path: Path) -> str | None:
    """Why the part file ``path`` is unusable (``None`` when it holds ``images``
    ``(24, 4, 64, 64)`` uint8 and ``voxels`` ``(32, 32, 32)`` bool with correct CRCs)."""
    try:
        with np.load(path) as z:
            im, vox = z["images"], z["voxels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        return f"unreadable ({type(exc).__name__}: {exc})"
    if im.shape != (24, 4, 64, 64) or im.dtype != np.uint8 or vox.shape != (32, 32, 32) or vox.dtype != np.bool_:
        return f"holds images {im.shape} {im.dtype}, voxels {vox.shape} {vox.dtype}"
    return None


def _part_is_done(path: Path) -> bool:
    """Whether a part from an earlier run can be kept; a damaged one is deleted."""
    if not path.is_file():
        return False
    why = part_problem(path)
    if why is None:
        return True
    log.warning("%s: %s; converting the model again", path, why)
    path.unlink()
    return False


def _remove_stale_temp_files(out: Path, plan: dict[tuple[str, str], list[str]]) -> None:
    """Deletes what a killed run left half-written: part temp files, output temp files."""
    outputs = [MANIFEST, "failed.txt"] + [f.name for (c, s) in plan for f in split_files(out, c, s)]
    remove_temp_files(out, outputs)
    for old in out.glob(".*_ids.txt.tmp"):  # written by earlier versions
        old.unlink()
    for synset, split in plan:
        for tmp in (out / PARTS / f"{synset}_{split}").glob(".*.tmp.npz"):
            tmp.unlink()


def read_convert_manifest(out: Path) -> dict:
    """``convert.json`` (``{"format_version", "splits": {"{synset}_{split}": entry}}``), or
    an empty one when absent. A corrupt manifest is set aside (renamed ``.corrupt``), with
    a warning: every split is then checked again."""
    path = out / MANIFEST
    try:
        data = read_manifest(path, required=("splits",))
    except ManifestError as exc:
        log.warning("%s; set aside as %s.corrupt, every split is checked again", exc, MANIFEST)
        os.replace(path, path.with_name(MANIFEST + ".corrupt"))
        data = None
    return data if data is not None else {"format_version": FORMAT_VERSION, "splits": {}}


def split_is_done(out: Path, manifest: dict, synset: str, split: str, models: Sequence[str]) -> bool:
    """Whether the outputs of ``synset``/``split`` are complete for exactly ``models``: its
    ``convert.json`` entry lists ``models`` and its files match their records (size and
    CRC-32). Outputs of an earlier version without an entry count when their id list equals
    ``models`` and both npz files open with that many objects (they are then recorded)."""
    key = f"{synset}_{split}"
    entry = manifest["splits"].get(key)
    files = split_files(out, synset, split)
    if entry is not None:
        return entry.get("models") == list(models) and all(
            record_problem(f, entry.get("files", {}).get(f.name, {}), full=True) is None for f in files)
    if not all(f.is_file() for f in files) or files[2].read_text().split() != list(models):
        return False
    try:
        n = {NpzArray(files[0]).shape[0], NpzArray(files[1]).shape[0]}
    except (DatasetFormatError, FileNotFoundError):
        return False
    if n != {len(models)}:
        return False
    _record_split(out, manifest, synset, split, models, list(models))
    return True


def _record_split(out: Path, manifest: dict, synset: str, split: str, models: Sequence[str],
                  included: Sequence[str]) -> None:
    manifest["splits"][f"{synset}_{split}"] = {
        "models": list(models), "included": list(included),
        "files": {f.name: file_record(f) for f in split_files(out, synset, split)}}
    write_manifest(out / MANIFEST, manifest)


def _worker_init() -> None:
    import torch  # noqa: PLC0415

    torch.set_num_threads(1)


def assemble(out: Path, synset: str, split: str, models: Sequence[str], compress: bool = False) -> None:
    """Stream the part files of ``models`` (in order) into the split's two npz files, then
    write the id list (each file atomically)."""
    n = len(models)
    with NpzStreamWriter(images_path(out, synset, split), (n, 24, 4, 64, 64), np.uint8, compress) as wi, \
            NpzStreamWriter(voxels_path(out, synset, split), (n, 32, 32, 32), np.bool_, compress) as wv:
        for m in models:
            with np.load(part_path(out, synset, split, m)) as z:
                wi.write(z["images"][None])
                wv.write(z["voxels"][None])
    write_text_atomic(ids_path(out, synset, split), "".join(f"{m}\n" for m in models))


def _remove_parts(out: Path, synset: str, split: str) -> None:
    shutil.rmtree(out / PARTS / f"{synset}_{split}", ignore_errors=True)


def _append_failures(out: Path, failed: Sequence[tuple[str, str, str, str]]) -> None:
    """Adds this run's failures to ``failed.txt`` (one ``synset split model error`` line
    each, tab-separated), without repeating lines already there."""
    path = out / "failed.txt"
    lines = path.read_text().splitlines() if path.is_file() else []
    lines += [line for line in ("\t".join(row) for row in failed) if line not in lines]
    write_text_atomic(path, "".join(f"{line}\n" for line in lines))


def convert(shapenet: str | os.PathLike, splits_file: str | os.PathLike, out: str | os.PathLike,
            categories: Sequence[str] | None = None, splits: Sequence[str] = SPLITS,
            workers: int = 0, render_fn: RenderFn | None = None, keep_parts: bool = False,
            compress: bool = False, progress: bool = True, max_models: int | None = None) -> dict:
    """Convert ``shapenet`` into ``out``; resumable. ``workers=0`` converts in this process,
    ``workers>=1`` in that many spawned processes (``render_fn`` must then be picklable).
    ``max_models`` (per category and split) is for quick trials. Returns
    ``{"converted": int, "skipped": int, "failed": [(synset, split, model, error)],
    "empty": [(synset, split)]}`` (``empty``: splits not written, every model failed).
    Resuming after an interruption: see the module docstring."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = read_splits(splits_file)
    cats = list(categories) if categories else sorted({c for s in splits for c in table.get(s, {})})
    plan = {(synset, split): table[split][synset][:max_models] for split in splits for synset in cats
            if table.get(split, {}).get(synset, [])[:max_models]}
    _remove_stale_temp_files(out, plan)
    manifest = read_convert_manifest(out)
    jobs, skipped, finished = [], 0, set()
    for (synset, split), models in plan.items():
        if split_is_done(out, manifest, synset, split, models):
            finished.add((synset, split))
            skipped += len(models)
            continue
        for m in models:
            if _part_is_done(part_path(out, synset, split, m)):
                skipped += 1
            else:
                jobs.append((synset, split, m))
    failed = _run_jobs(jobs, str(shapenet), str(out), workers, render_fn, progress)
    bad = {(s, sp, m) for s, sp, m, _ in failed}
    empty = []
    for (synset, split), models in plan.items():
        if (synset, split) not in finished:
            done = [m for m in models if (synset, split, m) not in bad]
            if not done:
                log.warning("%s/%s: every model failed; the split is not written", synset, split)
                empty.append((synset, split))
                continue
            assemble(out, synset, split, done, compress=compress)
            _record_split(out, manifest, synset, split, models, done)
        if not keep_parts:
            _remove_parts(out, synset, split)
    if not keep_parts and (out / PARTS).is_dir() and not any((out / PARTS).iterdir()):
        (out / PARTS).rmdir()
    if failed:
        _append_failures(out, failed)
    return {"converted": len(jobs) - len(failed), "skipped": skipped, "failed": failed, "empty": empty}


def _run_jobs(jobs: Sequence[tuple[str, str, str]], shapenet: str, out: str, workers: int,
              render_fn: RenderFn | None, progress: bool) -> list[tuple[str, str, str, str]]:
    """Converts every ``(synset, split, model)`` of ``jobs`` into its part file, in this
    process (``workers <= 0``) or in ``workers`` spawned processes. Returns the failures
    as ``(synset, split, model, error)``."""
    failed: list[tuple[str, str, str, str]] = []
    bar = tqdm(total=len(jobs), desc="recon-convert", unit="model", disable=not progress)
    if workers <= 0:
        for synset, split, m in jobs:
            try:
                convert_one(shapenet, out, synset, split, m, render_fn)
            except (ValueError, FileNotFoundError) as exc:
                failed.append((synset, split, m, str(exc)))
            bar.update(1)
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                                 initializer=_worker_init) as pool:
            futures = {pool.submit(convert_one, shapenet, out, s, sp, m, render_fn): (s, sp, m)
                       for s, sp, m in jobs}
            for fut in as_completed(futures):
                try:
                    fut.result()
                except (ValueError, FileNotFoundError) as exc:
                    failed.append((*futures[fut], str(exc)))
                bar.update(1)
    bar.close()
    return failed


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
    for s, sp in r["empty"]:
        print(f"  not written: {s}_{sp} (every model failed)", file=sys.stderr)
    return 1 if r["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
