"""Synthetic "ShapeNet-like" dataset in the exact format of the ShapeNet renders.

``generate(out_dir, seed, objects_per_class)`` writes, for each synthetic category
(:data:`recon.data.categories.SYNTHETIC_CATEGORIES`) and split,
``{synset}_{split}_images.npz`` ``(N, 24, 4, 64, 64)`` uint8 and
``{synset}_{split}_voxels.npz`` ``(N, 32, 32, 32)`` bool, plus ``synthetic.json``
(the parameters and a size / CRC-32 record of every file, written when the set is
complete; :mod:`recon.data.manifest`). A killed run resumes: see :func:`generate`. Which
existing folders :func:`ensure_synthetic` (``data=synthetic``) reuses or refuses is
described there. Objects are procedural (:mod:`recon.data.procedural`), normalised
like ShapeNet, rendered by :func:`recon.data.render_views.render_dataset_views` and
voxelized by the evaluation voxelizer. Object ``i`` of a category and split depends
only on ``(seed, synset, split, i)``, so output is deterministic and independent of
the other counts.

Console entry point: ``recon-synth --out datasets/synthetic --seed 0 --objects-per-class 40``.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from tqdm import tqdm

from recon.data.categories import SPLITS, SYNTHETIC_CATEGORIES
from recon.data.manifest import (ManifestError, file_record, read_manifest, record_problem,
                                 remove_temp_files, temp_target, write_manifest)
from recon.data.mesh import ColoredMesh, normalize_mesh
from recon.data.npz_writer import NpzStreamWriter
from recon.data.procedural import BUILDERS
from recon.data.render_views import RenderFn, render_dataset_views
from recon.data.render_layouts import images_path, voxels_path
from recon.evaluation.voxelize import voxelize_meshes

DEFAULT_OBJECTS_PER_CLASS = 40
DEFAULT_CATEGORIES = tuple(SYNTHETIC_CATEGORIES)
FORMAT_VERSION = 1
_CHUNK = 32  # objects voxelized together
MANIFEST = "synthetic.json"  # written when the set is complete: parameters and file records
JOURNAL = ".synthetic-progress.json"  # during a run: parameters and the files finished so far

log = logging.getLogger(__name__)


def split_counts(objects_per_class: int | Mapping[str, int], splits: Sequence[str] = SPLITS) -> dict[str, int]:
    """Objects per class for each split: an int ``n`` means ``n`` for train and
    ``max(1, n // 5)`` for every other split; a mapping is used as given."""
    if isinstance(objects_per_class, Mapping):
        return {s: int(objects_per_class[s]) for s in splits}
    n = int(objects_per_class)
    return {s: (n if s == "train" else max(1, n // 5)) for s in splits}


def object_seed(seed: int, synset: str, split: str, index: int) -> np.random.SeedSequence:
    split_code = sum(ord(ch) * 256 ** k for k, ch in enumerate(split))
    return np.random.SeedSequence([int(seed), int(synset), split_code, int(index)])


def make_object(synset: str, seed: int, split: str, index: int) -> ColoredMesh:
    """The normalised ground-truth mesh of object ``index`` (deterministic)."""
    if synset not in BUILDERS:
        raise KeyError(f"unknown synthetic category {synset!r}; known: {sorted(BUILDERS)}")
    rng = np.random.default_rng(object_seed(seed, synset, split, index))
    return normalize_mesh(BUILDERS[synset](rng))


class SyntheticSetError(RuntimeError):
    """The output folder holds something this call must not replace (see :func:`ensure_synthetic`)."""


def set_parameters(seed: int, counts: Mapping[str, int], categories: Sequence[str]) -> dict:
    """What determines a synthetic set's content: format version, seed, categories, counts."""
    return {"format_version": FORMAT_VERSION, "seed": int(seed),
            "categories": {c: SYNTHETIC_CATEGORIES.get(c, c) for c in categories},
            "objects_per_class": {k: int(v) for k, v in counts.items()}}


def _same_parameters(record: Mapping, params: Mapping) -> bool:
    return all(record.get(k) == v for k, v in params.items())


def describe_parameters(record: Mapping) -> str:
    """``seed 0, objects per class {'train': 40, ...}, categories 90000001, ...`` for messages."""
    return (f"seed {record.get('seed')}, objects per class {record.get('objects_per_class')}, "
            f"categories {', '.join(record.get('categories', {}))}")


def synth_command(out: Path, record: Mapping) -> str:
    """The ``recon-synth`` command line that (re)makes the set described by ``record``."""
    counts = record.get("objects_per_class", {})
    return (f"recon-synth --out {out} --seed {record.get('seed')} --objects-per-class {counts.get('train')} "
            f"--val-objects {counts.get('val')} --test-objects {counts.get('test')} "
            f"--categories {' '.join(record.get('categories', {}))}")


def _pairs(categories: Sequence[str], splits: Sequence[str]) -> list[tuple[str, str, str, str]]:
    """``(synset, split, images file name, voxels file name)`` in generation order."""
    return [(c, s, images_path("", c, s).name, voxels_path("", c, s).name) for c in categories for s in splits]


def _read_set_manifest(path: Path) -> dict | None:
    """The manifest or journal at ``path`` (``None`` if absent); raises :class:`ManifestError`."""
    return read_manifest(path, required=("format_version", "seed", "categories", "objects_per_class"))


def set_problems(out: Path, record: Mapping, full: bool) -> list[str]:
    """What keeps ``record`` (a manifest) from describing a complete set in ``out``, as
    ``"name: problem"`` strings; empty when complete. Manifests without ``files`` (written
    before records existed) are checked for the presence of every expected file."""
    files = record.get("files")
    if files is None:  # presence only
        names = _planned(_pairs(list(record["categories"]), list(record["objects_per_class"])))
        return [f"{n}: missing" for n in names if not (out / n).is_file()]
    problems = ((n, record_problem(out / n, rec, full)) for n, rec in files.items())
    return [f"{n}: {why}" for n, why in problems if why]


def _is_synthetic_output(name: str) -> bool:
    parts = name.split("_")
    return (len(parts) == 3 and parts[0] in SYNTHETIC_CATEGORIES
            and parts[2] in ("images.npz", "voxels.npz"))


def _is_ours(name: str) -> bool:
    """A file a synthetic-set run writes: an output, the manifest, the journal, or a
    temporary file of one of those."""
    target = temp_target(name) or name
    target = target[1:] if target.startswith(".") and target != JOURNAL else target
    return target in (MANIFEST, JOURNAL) or _is_synthetic_output(target)


def foreign_entries(out: Path) -> list[str]:
    """Entries of ``out`` that no synthetic-set run wrote (user files: never touched)."""
    return sorted(p.name for p in out.iterdir() if not _is_ours(p.name))


def _planned(pairs: Sequence[tuple[str, str, str, str]]) -> list[str]:
    return [name for _, _, *names in pairs for name in names]


def _verified_done(out: Path, record: Mapping | None, params: Mapping, planned: Sequence[str]) -> dict[str, dict]:
    """The records of ``record`` (a journal or manifest) for planned files that are on disk
    intact (size and CRC-32), when it was made with ``params``; else nothing."""
    if not record or not _same_parameters(record, params):
        return {}
    return {n: r for n, r in record.get("files", {}).items()
            if n in planned and record_problem(out / n, r, full=True) is None}


def _write_pair(out: Path, synset: str, split: str, n: int, seed: int, render_fn: RenderFn | None,
                bar: tqdm) -> None:
    """Both files of one category/split, each published atomically when complete."""
    # streamed in chunks: memory stays bounded whatever the object count
    with NpzStreamWriter(images_path(out, synset, split), (n, 24, 4, 64, 64), np.uint8) as wi, \
            NpzStreamWriter(voxels_path(out, synset, split), (n, 32, 32, 32), np.bool_) as wv:
        for first in range(0, n, _CHUNK):
            meshes = [make_object(synset, seed, split, i) for i in range(first, min(n, first + _CHUNK))]
            for m in meshes:
                wi.write(render_dataset_views(m, render_fn)[None])
                bar.update(1)
            wv.write(voxelize_meshes([(m.vertices, m.faces) for m in meshes]).numpy())


def _claim_folder(out: Path, params: dict, planned: Sequence[str],
                  overwrite: bool) -> tuple[dict[str, dict], dict | None]:
    """Checks what ``out`` holds before generating ``params`` into it; returns the records
    of the ``planned`` files already there intact (to skip) and the manifest when it was
    made with ``params``, and deletes a killed run's temporary files. Raises
    :class:`SyntheticSetError` when ``out`` holds user files, or another set / interrupted
    run (unless ``overwrite``: then that set's files go)."""
    foreign = foreign_entries(out)
    if foreign:
        raise SyntheticSetError(f"{out}: holds files that are not part of a synthetic set ({', '.join(foreign[:5])}); "
                                "refusing to write into it: choose an empty or new --out")
    try:
        manifest = _read_set_manifest(out / MANIFEST)
    except ManifestError as exc:
        if not overwrite:
            raise SyntheticSetError(f"{exc}; pass --overwrite to replace the set") from exc
        manifest = None
    try:
        journal = _read_set_manifest(out / JOURNAL)
    except ManifestError as exc:  # our own scratch state: start over
        log.warning("%s; starting over", exc)
        journal = None
    for what, rec in (("a synthetic set", manifest), ("an interrupted recon-synth run", journal)):
        if rec is not None and not _same_parameters(rec, params):
            if not overwrite:
                raise SyntheticSetError(f"{out}: holds {what} with other parameters ({describe_parameters(rec)}); "
                                        "pass --overwrite to replace it, or choose another --out")
            for name in rec.get("files", {}):
                if name not in planned and _is_synthetic_output(name):
                    (out / name).unlink(missing_ok=True)  # the replaced set's own outputs
    remove_temp_files(out, [*planned, MANIFEST, JOURNAL])
    done = {**_verified_done(out, manifest, params, planned), **_verified_done(out, journal, params, planned)}
    return done, manifest if manifest is not None and _same_parameters(manifest, params) else None


def generate(out_dir: str | os.PathLike, seed: int = 0,
             objects_per_class: int | Mapping[str, int] = DEFAULT_OBJECTS_PER_CLASS,
             splits: Sequence[str] = SPLITS, categories: Sequence[str] | None = None,
             render_fn: RenderFn | None = None, progress: bool = True, overwrite: bool = False) -> dict:
    """Generate the synthetic dataset into ``out_dir``; returns the manifest (a dict).

    Resumable: every finished file is recorded (size, CRC-32) in ``.synthetic-progress.json``
    and ``synthetic.json`` is written only once the whole set is complete (and removed while
    a run changes the folder). A run after a kill deletes the killed run's temporary files,
    keeps the files recorded intact, and writes the rest; a run over a complete set with the
    same parameters only verifies it. Raises :class:`SyntheticSetError` when ``out_dir``
    holds non-synthetic files, or a set / interrupted run with other parameters (replaced
    only with ``overwrite``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cats = list(categories) if categories else list(DEFAULT_CATEGORIES)
    counts = split_counts(objects_per_class, splits)
    params = set_parameters(seed, counts, cats)
    pairs = _pairs(cats, splits)
    planned = _planned(pairs)
    done, same_manifest = _claim_folder(out, params, planned, overwrite)
    if same_manifest is not None and len(done) == len(planned):
        log.info("%s: the synthetic set is already complete (%s)", out, describe_parameters(params))
        return same_manifest
    journal = {**params, "files": done}
    write_manifest(out / JOURNAL, journal)  # first: a kill from here on is resumable
    (out / MANIFEST).unlink(missing_ok=True)  # the folder is changing: no longer a complete set
    start = time.perf_counter()
    bar = tqdm(total=sum(counts.values()) * len(cats), desc="recon-synth", unit="obj", disable=not progress)
    for synset, split, im_name, vox_name in pairs:
        if im_name in done and vox_name in done:
            bar.update(counts[split])
            continue
        _write_pair(out, synset, split, counts[split], seed, render_fn, bar)
        for name in (im_name, vox_name):
            journal["files"][name] = file_record(out / name)
        write_manifest(out / JOURNAL, journal)
    bar.close()
    manifest = {**params, "seconds": round(time.perf_counter() - start, 2),
                "files": {n: journal["files"][n] for n in planned}}
    write_manifest(out / MANIFEST, manifest)
    (out / JOURNAL).unlink()
    return manifest


def ensure_synthetic(out_dir: str | os.PathLike, seed: int = 0,
                     objects_per_class: int | Mapping[str, int] = DEFAULT_OBJECTS_PER_CLASS,
                     splits: Sequence[str] = SPLITS, categories: Sequence[str] | None = None,
                     progress: bool = True) -> Path:
    """Make sure ``out_dir`` holds a complete synthetic set, never replacing anything.

    * missing or empty folder: generate the set with the given parameters (the defaults);
    * a complete synthetic set (``synthetic.json`` and every file it lists, at its recorded
      size), *whatever its parameters*: reused as it is, with a logged message (a set made
      by ``recon-synth`` with other options was made deliberately);
    * an interrupted or damaged set with exactly these parameters: completed (resumed);
    * anything else: a corrupt ``synthetic.json``, an incomplete set or interrupted run with
      other parameters, or files that are no synthetic set: :class:`SyntheticSetError`
      saying what was found and how to repair it; nothing in the folder is touched.

    Returns ``out_dir`` as a Path.
    """
    out = Path(out_dir)
    cats = list(categories) if categories else list(DEFAULT_CATEGORIES)
    params = set_parameters(seed, split_counts(objects_per_class, splits), cats)
    if not out.is_dir() or not any(out.iterdir()):
        log.info("%s: generating the synthetic set (%s)", out, describe_parameters(params))
        generate(out, seed=seed, objects_per_class=params["objects_per_class"], splits=splits,
                 categories=cats, progress=progress)
        return out
    manifest = _read_for_ensure(out / MANIFEST)
    if manifest is not None:
        problems = set_problems(out, manifest, full=False)
        if not problems:
            _log_reuse(out, manifest, params)
            return out
        record, state = manifest, f"an incomplete synthetic set ({'; '.join(problems[:3])})"
    elif (journal := _read_for_ensure(out / JOURNAL)) is not None:
        record, state = journal, "an interrupted recon-synth run"
    else:
        raise SyntheticSetError(f"{out}: not a synthetic set (no {MANIFEST}; holds "
                                f"{', '.join(sorted(p.name for p in out.iterdir())[:5])}); it is left untouched: "
                                "point data.root at another folder, or empty it to generate the set there")
    if not _same_parameters(record, params):
        raise SyntheticSetError(f"{out}: holds {state} made with {describe_parameters(record)}; it is left "
                                f"untouched: finish it with `{synth_command(out, record)}`, or remove it")
    log.warning("%s: %s; completing it", out, state)
    generate(out, seed=seed, objects_per_class=params["objects_per_class"], splits=splits, categories=cats,
             progress=progress)
    return out


def _read_for_ensure(path: Path) -> dict | None:
    """:func:`_read_set_manifest`, a corrupt file becoming a refusal that touches nothing."""
    try:
        return _read_set_manifest(path)
    except ManifestError as exc:
        raise SyntheticSetError(f"{exc}; {path.parent} is left untouched: repair or remove it, or point "
                                "data.root at another folder") from exc


def _log_reuse(out: Path, manifest: Mapping, params: Mapping) -> None:
    if _same_parameters(manifest, params):
        log.info("%s: using the synthetic set (%s)", out, describe_parameters(manifest))
    else:
        log.info("%s: reusing the existing synthetic set as it is (%s), made with other parameters than "
                 "the defaults (%s); remove the folder to get the default set", out,
                 describe_parameters(manifest), describe_parameters(params))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="recon-synth", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="datasets/synthetic", help="output folder (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--objects-per-class", type=int, default=DEFAULT_OBJECTS_PER_CLASS,
                   help="train objects per class; val/test get a fifth (default: %(default)s)")
    p.add_argument("--val-objects", type=int, default=None, help="override val objects per class")
    p.add_argument("--test-objects", type=int, default=None, help="override test objects per class")
    p.add_argument("--categories", nargs="+", default=None, metavar="SYNSET",
                   help="subset of " + ", ".join(f"{k} ({v})" for k, v in SYNTHETIC_CATEGORIES.items()))
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a synthetic set (or interrupted run) made with other parameters in --out")
    a = p.parse_args(argv)
    counts = split_counts(a.objects_per_class)
    if a.val_objects is not None:
        counts["val"] = a.val_objects
    if a.test_objects is not None:
        counts["test"] = a.test_objects
    try:
        m = generate(a.out, seed=a.seed, objects_per_class=counts, categories=a.categories,
                     progress=not a.no_progress, overwrite=a.overwrite)
    except SyntheticSetError as exc:
        print(f"recon-synth: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {sum(m['objects_per_class'].values()) * len(m['categories'])} objects "
          f"to {a.out} in {m['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
