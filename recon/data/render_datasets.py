"""PyTorch datasets over a set of renders in the ShapeNet-renders format (the real
ShapeNet renders, the synthetic set or a converted set; either layout of
:mod:`recon.data.render_layouts`).

* :class:`RenderSplit`: the categories of one split (not a Dataset: what the two below
  read); global object index = objects of category 0, then category 1, ... (categories
  in the given order).
* :class:`EvalViews`: evaluation, every object and all 24 views; sample
  ``i = object*24 + view`` (the reference image index).
* :class:`TrainPairs`: training; indexed by ``(category, object_in_category, view_a,
  view_b)`` tuples produced by :class:`recon.data.sampling.ClassBalancedPairSampler`.

Images are returned as float32 ``(4, 64, 64)`` in ``[0, 1]`` (uint8 / 255), RGBA with
the dataset's conventions unchanged (background RGB about 0, antialiased alpha).
Eyes are ``(3,)`` float32 (:func:`recon.data.cameras.eye_of_view`).
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from recon.data.cameras import NUM_VIEWS, eye_of_view
from recon.data.render_layouts import check_categories, discover_categories, open_source


class RenderSplit:
    """The ``categories`` (synset ids, or ``None`` = all present) of one ``split``."""

    def __init__(self, root: str | os.PathLike, split: str, categories: Sequence[str] | None = None,
                 layout: str = "npz", need_voxels: bool = True,
                 cache_dir: str | os.PathLike | None = None) -> None:
        self.root, self.split, self.layout = root, split, layout
        if categories:
            check_categories(root, split, layout, categories)  # names each missing file at once
        self.categories = list(categories) if categories else discover_categories(root, split, layout)
        self.sources = [open_source(root, c, split, layout, need_voxels, cache_dir)
                        for c in self.categories]
        counts = [len(s) for s in self.sources]
        self.objects_per_category = counts
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.num_objects = int(self.offsets[-1])

    def prepare(self) -> int:
        """Do the one-time work (decompressing compressed npz members into the cache) in this
        process, before any worker starts; a no-op for what is already cached. Returns the
        number of files this call decompressed."""
        return sum(s.prepare() for s in self.sources)

    def verify(self) -> None:
        """Full content check (every byte / every PNG decoded); raises naming the bad file.
        Opening already checks names, shapes, dtypes and sizes; this finds flipped bytes and
        damaged PNGs too, at the cost of reading the whole split."""
        for s in self.sources:
            s.verify()

    def locate(self, object_index: int) -> tuple[int, int]:
        """Global object index -> ``(category index, object within category)``."""
        if not 0 <= object_index < self.num_objects:
            raise IndexError(f"object {object_index} out of range [0, {self.num_objects})")
        c = int(np.searchsorted(self.offsets, object_index, side="right") - 1)
        return c, object_index - int(self.offsets[c])


def _to_float(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).to(torch.float32).div_(255.0)


class EvalViews(Dataset):
    """Evaluation samples: ``len = num_objects * len(views)``.

    With all 24 views, sample ``i`` is object ``i // 24``, view ``i % 24``. Each item is a
    dict: ``images (4,64,64)`` float, ``eye (3,)``, ``voxels (32,32,32)`` bool (when the
    renders were opened with voxels), ``category``, ``object_index``, ``view`` (int64).
    """

    def __init__(self, renders: RenderSplit, views: Sequence[int] | None = None) -> None:
        self.renders = renders
        self.views = list(range(NUM_VIEWS)) if views is None else [int(v) for v in views]
        self.with_voxels = all(s.has_voxels for s in renders.sources)

    def __len__(self) -> int:
        return self.renders.num_objects * len(self.views)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        obj, k = divmod(int(i), len(self.views))
        view = self.views[k]
        c, local = self.renders.locate(obj)
        src = self.renders.sources[c]
        item = {
            "images": _to_float(src.images(local, [view])[0]),
            "eye": eye_of_view(view).clone(),
            "category": torch.tensor(c, dtype=torch.long),
            "object_index": torch.tensor(obj, dtype=torch.long),
            "view": torch.tensor(view, dtype=torch.long),
        }
        if self.with_voxels:
            item["voxels"] = torch.from_numpy(src.voxels(local))
        return item


class TrainPairs(Dataset):
    """Training samples keyed by ``(category, object_in_category, view_a, view_b)``.

    Items: ``images_a``, ``images_b`` ``(4,64,64)`` float, ``eye_a``, ``eye_b`` ``(3,)``,
    ``view_a``, ``view_b``, ``category``, ``object_index`` (global) as int64.
    Integer keys ``i`` are also accepted (object ``i // 24``, view ``i % 24`` for both).
    """

    def __init__(self, renders: RenderSplit) -> None:
        self.renders = renders

    def __len__(self) -> int:
        return self.renders.num_objects * NUM_VIEWS

    def __getitem__(self, key) -> dict[str, torch.Tensor]:
        if isinstance(key, (int, np.integer)):
            obj, v = divmod(int(key), NUM_VIEWS)
            c, local = self.renders.locate(obj)
            key = (c, local, v, v)
        c, local, va, vb = (int(x) for x in key)
        src = self.renders.sources[c]
        if not 0 <= local < len(src):
            raise IndexError(f"object {local} out of range for category {src.synset}")
        ims = _to_float(src.images(local, [va, vb]))
        return {
            "images_a": ims[0],
            "images_b": ims[1],
            "eye_a": eye_of_view(va).clone(),
            "eye_b": eye_of_view(vb).clone(),
            "view_a": torch.tensor(va, dtype=torch.long),
            "view_b": torch.tensor(vb, dtype=torch.long),
            "category": torch.tensor(c, dtype=torch.long),
            "object_index": torch.tensor(int(self.renders.offsets[c]) + local, dtype=torch.long),
        }
