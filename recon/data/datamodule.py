"""LightningDataModule serving training pairs and evaluation views.

Training batches (dict): ``images_a``, ``images_b`` ``(B,4,64,64)`` float in [0,1],
``eye_a``, ``eye_b`` ``(B,3)``, ``view_a``, ``view_b``, ``category``, ``object_index``
``(B,)`` int64. A "train epoch" is ``iterations_per_epoch`` batches drawn by
:class:`recon.data.sampling.ClassBalancedPairSampler`. ``batch_size`` is the global batch:
under DDP Lightning wraps the sampler and splits its samples between the ranks, and each
rank loads ``batch_size / world_size`` objects per step, so steps and the effective batch
match single-process training.

Evaluation batches (val/test): ``images (B,4,64,64)``, ``eye (B,3)``,
``voxels (B,32,32,32)`` bool, ``category``, ``object_index``, ``view`` ``(B,)`` int64,
iterating every object and every view (``eval_views`` to restrict the views).
"""
from __future__ import annotations

import os
from typing import Sequence

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from recon.data.sampling import ClassBalancedPairSampler
from recon.data.shapenet import ShapeNetPairs, ShapeNetRenders, ShapeNetViews
from recon.data.sources import discover_categories


class ShapeNetDataModule(pl.LightningDataModule):
    """ShapeNet renders (or the synthetic set) in the ``npz`` or ``folders`` layout.

    ``categories``: synset ids, or ``None`` for every category present in the train split
    (the same list, in the same order, is used for every split so category indices agree).

    Every split is opened in :meth:`setup` (the main process), so a missing, truncated or
    malformed file raises there, naming the file. ``verify_files`` also reads every byte
    (CRC-32s, every PNG decoded) at set-up, which costs a full read of the data.
    """

    def __init__(self, root: str | os.PathLike, categories: Sequence[str] | None = None,
                 batch_size: int = 64, num_workers: int = 0, train_split: str = "train",
                 val_split: str = "val", test_split: str = "test", layout: str = "npz",
                 iterations_per_epoch: int = 1000, eval_batch_size: int | None = None,
                 eval_views: Sequence[int] | None = None, seed: int = 0,
                 cache_dir: str | os.PathLike | None = None, pin_memory: bool = False,
                 generate_if_missing: bool = False, verify_files: bool = False) -> None:
        super().__init__()
        self.root = root
        self.categories = list(categories) if categories else None
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.splits = {"train": train_split, "val": val_split, "test": test_split}
        self.layout = layout
        self.iterations_per_epoch = iterations_per_epoch
        self.eval_views = list(eval_views) if eval_views is not None else None
        self.seed = seed
        self.cache_dir = cache_dir
        self.pin_memory = pin_memory
        self.generate_if_missing = generate_if_missing
        self.verify_files = verify_files
        self._renders: dict[str, ShapeNetRenders] = {}

    def prepare_data(self) -> None:
        """With ``generate_if_missing``, writes the synthetic set into ``root`` unless it is there."""
        if self.generate_if_missing:
            from recon.data.synthetic import ensure_synthetic  # noqa: PLC0415

            ensure_synthetic(self.root, seed=0)

    def per_process_batch_size(self) -> int:
        """``batch_size`` is global: under data-parallel training each of the ``world_size``
        processes takes ``batch_size // world_size`` objects."""
        world = getattr(self.trainer, "world_size", 1) if self.trainer is not None else 1
        if self.batch_size % world:
            raise ValueError(f"batch_size {self.batch_size} is not divisible by the {world} training processes")
        return self.batch_size // world

    def _category_list(self) -> list[str]:
        if self.categories is None:
            self.categories = discover_categories(self.root, self.splits["train"], self.layout)
        return self.categories

    def renders(self, stage: str) -> ShapeNetRenders:
        """The :class:`ShapeNetRenders` of ``stage`` in ``train``/``val``/``test`` (opened once)."""
        if stage not in self._renders:
            r = ShapeNetRenders(self.root, self.splits[stage], self._category_list(), self.layout,
                                need_voxels=stage != "train", cache_dir=self.cache_dir)
            r.prepare()  # decompress into the cache here, not racing in workers
            if self.verify_files:
                r.verify()  # every byte read once here, so no worker meets a damaged file
            self._renders[stage] = r
        return self._renders[stage]

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit"):
            self.renders("train")
            self.renders("val")
        if stage in (None, "validate"):
            self.renders("val")
        if stage in (None, "test", "predict"):
            self.renders("test")

    def _loader(self, dataset, **kw) -> DataLoader:
        return DataLoader(dataset, num_workers=self.num_workers, pin_memory=self.pin_memory,
                          persistent_workers=self.num_workers > 0, **kw)

    def train_sampler(self) -> ClassBalancedPairSampler:
        r = self.renders("train")
        return ClassBalancedPairSampler(r.objects_per_category,
                                        self.iterations_per_epoch * self.batch_size, seed=self.seed)

    def train_dataloader(self) -> DataLoader:
        return self._loader(ShapeNetPairs(self.renders("train")), batch_size=self.per_process_batch_size(),
                            sampler=self.train_sampler(), drop_last=True)

    def eval_dataset(self, stage: str) -> ShapeNetViews:
        return ShapeNetViews(self.renders(stage), views=self.eval_views)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.eval_dataset("val"), batch_size=self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.eval_dataset("test"), batch_size=self.eval_batch_size, shuffle=False)

    @property
    def category_ids(self) -> list[str]:
        """The synset ids in use, in category-index order."""
        return list(self._category_list())

    @property
    def category_names(self) -> list[str]:
        from recon.data.categories import category_name

        return [category_name(c) for c in self._category_list()]
