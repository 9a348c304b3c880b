"""Synthetic "ShapeNet-like" dataset in the exact format of the ShapeNet renders.

``generate(out_dir, seed, objects_per_class)`` writes, for each synthetic category
(:data:`recon.data.categories.SYNTHETIC_CATEGORIES`) and split,
``{synset}_{split}_images.npz`` ``(N, 24, 4, 64, 64)`` uint8 and
``{synset}_{split}_voxels.npz`` ``(N, 32, 32, 32)`` bool, plus ``synthetic.json``
(the parameters). Objects are procedural (:mod:`recon.data.procedural`), normalised
like ShapeNet, rendered by :func:`recon.data.render_views.render_dataset_views` and
voxelized by the evaluation voxelizer. Object ``i`` of a category and split depends
only on ``(seed, synset, split, i)``, so output is deterministic and independent of
the other counts.

Console entry point: ``recon-synth --out datasets/synthetic --seed 0 --objects-per-class 40``.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from tqdm import tqdm

from recon.data.categories import SPLITS, SYNTHETIC_CATEGORIES
from recon.data.mesh import ColoredMesh, normalize_mesh
from recon.data.npz_writer import NpzStreamWriter
from recon.data.procedural import BUILDERS
from recon.data.render_views import RenderFn, render_dataset_views
from recon.data.sources import images_path, voxels_path
from recon.evaluation.voxelize import voxelize_meshes

DEFAULT_OBJECTS_PER_CLASS = 40
DEFAULT_CATEGORIES = tuple(SYNTHETIC_CATEGORIES)
FORMAT_VERSION = 1
_CHUNK = 32  # objects voxelized together


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


def generate(out_dir: str | os.PathLike, seed: int = 0,
             objects_per_class: int | Mapping[str, int] = DEFAULT_OBJECTS_PER_CLASS,
             splits: Sequence[str] = SPLITS, categories: Sequence[str] | None = None,
             render_fn: RenderFn | None = None, progress: bool = True) -> dict:
    """Generate the synthetic dataset into ``out_dir``; returns the manifest (a dict)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cats = list(categories) if categories else list(DEFAULT_CATEGORIES)
    counts = split_counts(objects_per_class, splits)
    total = sum(counts.values()) * len(cats)
    start = time.perf_counter()
    bar = tqdm(total=total, desc="recon-synth", unit="obj", disable=not progress)
    for synset in cats:
        for split in splits:
            n = counts[split]
            # streamed in chunks: memory stays bounded whatever the object count
            with NpzStreamWriter(images_path(out, synset, split), (n, 24, 4, 64, 64), np.uint8) as wi, \
                    NpzStreamWriter(voxels_path(out, synset, split), (n, 32, 32, 32), np.bool_) as wv:
                for first in range(0, n, _CHUNK):
                    meshes = [make_object(synset, seed, split, i) for i in range(first, min(n, first + _CHUNK))]
                    for m in meshes:
                        wi.write(render_dataset_views(m, render_fn)[None])
                        bar.update(1)
                    wv.write(voxelize_meshes([(m.vertices, m.faces) for m in meshes]).numpy())
    bar.close()
    manifest = {
        "format_version": FORMAT_VERSION, "seed": int(seed), "categories":
        {c: SYNTHETIC_CATEGORIES[c] for c in cats}, "objects_per_class": counts,
        "seconds": round(time.perf_counter() - start, 2),
    }
    fd, tmp = tempfile.mkstemp(dir=out, prefix="synthetic.json.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(manifest, f, indent=2)
    os.replace(tmp, out / "synthetic.json")
    return manifest


def ensure_synthetic(out_dir: str | os.PathLike, seed: int = 0,
                     objects_per_class: int | Mapping[str, int] = DEFAULT_OBJECTS_PER_CLASS,
                     splits: Sequence[str] = SPLITS, categories: Sequence[str] | None = None,
                     progress: bool = True) -> Path:
    """Generate into ``out_dir`` unless a complete set made with the same parameters is
    already there (``synthetic.json`` and every npz file). Returns ``out_dir`` as a Path."""
    out = Path(out_dir)
    cats = list(categories) if categories else list(DEFAULT_CATEGORIES)
    counts = split_counts(objects_per_class, splits)
    try:
        m = json.loads((out / "synthetic.json").read_text())
        same = (m.get("format_version") == FORMAT_VERSION and m.get("seed") == int(seed)
                and list(m.get("categories", {})) == cats and m.get("objects_per_class") == counts)
    except (OSError, ValueError):
        same = False
    complete = same and all(images_path(out, c, s).is_file() and voxels_path(out, c, s).is_file()
                            for c in cats for s in splits)
    if not complete:
        generate(out, seed=seed, objects_per_class=counts, splits=splits, categories=cats,
                 progress=progress)
    return out


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
    a = p.parse_args(argv)
    counts = split_counts(a.objects_per_class)
    if a.val_objects is not None:
        counts["val"] = a.val_objects
    if a.test_objects is not None:
        counts["test"] = a.test_objects
    m = generate(a.out, seed=a.seed, objects_per_class=counts, categories=a.categories,
                 progress=not a.no_progress)
    print(f"wrote {sum(m['objects_per_class'].values()) * len(m['categories'])} objects "
          f"to {a.out} in {m['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
