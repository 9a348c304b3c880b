"""LightningDataModule serving training pairs and evaluation views of a set of renders in
the Kato et al. ShapeNet-renders format (REFERENCE section 1): the real ShapeNet renders,
the synthetic set (:mod:`recon.data.synthetic`) or a converted one (:mod:`recon.data.convert`),
in the ``npz`` or the per-object ``folders`` layout (:mod:`recon.data.render_layouts`).

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

One-time work runs once per node, before any split is opened for use: Lightning calls
:meth:`RendersDataModule.prepare_data` on local rank 0 of each node (``prepare_data_per_node``
is left at its default, ``True``) and waits for it before :meth:`~RendersDataModule.setup`
runs on every rank. ``prepare_data`` generates the synthetic set (``generate_if_missing``) and
decompresses the compressed npz members of every split the run uses into the cache
(``cache_dir``; :mod:`recon.data.npz_array`), with a progress bar. ``setup`` then only opens
the splits and finds the caches ready. Called without ``prepare_data`` (a user calling
``setup`` directly), ``setup`` decompresses what is missing itself, under the same per-file
lock, so concurrent callers still produce one cache.
"""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Sequence

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from recon.data.categories import SPLITS
from recon.data.sampling import ClassBalancedPairSampler
from recon.data.render_datasets import EvalViews, RenderSplit, TrainPairs
from recon.data.render_layouts import discover_categories

log = logging.getLogger(__name__)

#: The stages (of :data:`recon.data.categories.SPLITS`) each Lightning entry point
#: (``trainer.state.fn``) reads.
STAGES_OF_TRAINER_FN = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",),
                        "predict": ("test",)}


class RendersDataModule(pl.LightningDataModule):
    """A set of renders in the ShapeNet-renders format (real, synthetic or converted), in the
    ``npz`` or ``folders`` layout.

    ``categories``: synset ids, or ``None`` for every category present in the train split
    (the same list, in the same order, is used for every split so category indices agree).
    ``train_split`` / ``val_split`` / ``test_split``: the file split names read for the
    ``train`` / ``val`` / ``test`` stages. ``cache_dir``: where compressed npz members are
    decompressed (``None``: ``$RECON_CACHE_DIR`` or ``~/.cache/diffmesh-recon/npz``).

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
        # Synset ids are 8-digit strings; a command line's `data.categories=[90000004]` arrives as an int.
        self.categories = [f"{c:08d}" if isinstance(c, int) else str(c) for c in categories] if categories else None
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.splits = {"train": train_split, "val": val_split, "test": test_split}
        self.layout = layout
        self.iterations_per_epoch = iterations_per_epoch
        self.eval_views = list(eval_views) if eval_views is not None else None
        self.seed = seed
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        self.pin_memory = pin_memory
        self.generate_if_missing = generate_if_missing
        self.verify_files = verify_files
        self._renders: dict[str, RenderSplit] = {}

    def prepare_data(self, stages: Sequence[str] | None = None) -> None:
        """The one-time, per-node work (Lightning calls it on local rank 0 of each node only):
        with ``generate_if_missing``, writes the synthetic set into ``root`` unless it is
        there; then decompresses the compressed npz members of the ``stages`` (of ``train``,
        ``val``, ``test``) into the cache, with a progress bar. ``stages=None``: the stages of
        the running Lightning entry point (``fit``: train and val; ``validate``: val;
        ``test``/``predict``: test), or all three when no trainer is attached. Opens no split:
        :meth:`setup` opens the splits. Safe to run from several processes at once."""
        if self.generate_if_missing:
            from recon.data.synthetic import ensure_synthetic  # noqa: PLC0415

            ensure_synthetic(self.root, seed=0)
        if self.layout != "npz":
            return  # the folder layout is read in place: nothing to prepare
        categories = self._category_list()
        done: set[str] = set()
        for stage in self._stages_in_use(stages):
            split = self.splits[stage]
            if split in done:
                continue
            done.add(split)
            extracted = self._open(stage, categories).prepare()
            if extracted:
                log.info("%s: split %r decompressed into the cache (%d files)", self.root, split, extracted)

    def _stages_in_use(self, stages: Sequence[str] | None) -> list[str]:
        if stages is not None:
            unknown = [s for s in stages if s not in SPLITS]
            if unknown:
                raise ValueError(f"unknown stage(s) {unknown}: stages are {list(SPLITS)}")
            return list(stages)
        fn = getattr(getattr(self._trainer_or_none(), "state", None), "fn", None)
        fn = getattr(fn, "value", fn)
        return list(STAGES_OF_TRAINER_FN.get(fn, SPLITS))

    def _trainer_or_none(self):
        try:
            return self.trainer
        except RuntimeError:  # some Lightning versions raise when no trainer is attached
            return None

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

    def _open(self, stage: str, categories: Sequence[str]) -> RenderSplit:
        if stage not in self.splits:
            raise ValueError(f"unknown stage {stage!r}: stages are {list(SPLITS)}")
        return RenderSplit(self.root, self.splits[stage], categories, self.layout,
                           need_voxels=stage != "train", cache_dir=self.cache_dir)

    def renders(self, stage: str) -> RenderSplit:
        """The :class:`RenderSplit` of ``stage`` in ``train``/``val``/``test`` (opened once).
        After :meth:`prepare_data` its caches are ready and this only opens the files; without
        it, missing caches are decompressed here (under their locks), never in a worker."""
        if stage not in self._renders:
            r = self._open(stage, self._category_list())
            if r.prepare():  # a no-op when prepare_data ran
                log.info("%s: decompressed split %r in setup (prepare_data did not run)", self.root,
                         self.splits[stage])
            if self.verify_files:
                r.verify()  # every byte read once here, so no worker meets a damaged file
            self._renders[stage] = r
        return self._renders[stage]

    def setup(self, stage: str | None = None) -> None:
        """Opens the splits ``stage`` (a Lightning entry point: ``fit``, ``validate``, ``test``,
        ``predict``; ``None``: all) reads, in this process, before any worker starts."""
        if stage is not None and stage not in STAGES_OF_TRAINER_FN:
            raise ValueError(f"unknown stage {stage!r}: expected one of {list(STAGES_OF_TRAINER_FN)} or None")
        for split_stage in SPLITS if stage is None else STAGES_OF_TRAINER_FN[stage]:
            self.renders(split_stage)

    def _loader(self, dataset, **kw) -> DataLoader:
        return DataLoader(dataset, num_workers=self.num_workers, pin_memory=self.pin_memory,
                          persistent_workers=self.num_workers > 0, **kw)

    def train_sampler(self) -> ClassBalancedPairSampler:
        r = self.renders("train")
        return ClassBalancedPairSampler(r.objects_per_category,
                                        self.iterations_per_epoch * self.batch_size, seed=self.seed)

    def train_dataloader(self) -> DataLoader:
        return self._loader(TrainPairs(self.renders("train")), batch_size=self.per_process_batch_size(),
                            sampler=self.train_sampler(), drop_last=True)

    def eval_dataset(self, stage: str) -> EvalViews:
        return EvalViews(self.renders(stage), views=self.eval_views)

    def eval_dataloader(self, stage: str) -> DataLoader:
        """Every view of ``stage``, in order; under data parallelism each process takes every
        ``world_size``-th sample (:class:`recon.evaluation.distributed_sampler.EvaluationSampler`),
        so every sample is evaluated exactly once, as in one process (Lightning's default
        sampler would pad the split with repeated samples)."""
        from recon.evaluation.distributed_sampler import EvaluationSampler  # noqa: PLC0415

        dataset = self.eval_dataset(stage)
        world = getattr(self.trainer, "world_size", 1) if self.trainer is not None else 1
        if world > len(dataset):
            raise ValueError(f"the {stage} split has {len(dataset)} samples, fewer than the {world} processes "
                             "evaluating it; evaluate it on fewer devices")
        sampler = EvaluationSampler(dataset, world, self.trainer.global_rank) if world > 1 else None
        return self._loader(dataset, batch_size=self.eval_batch_size, shuffle=False, sampler=sampler)

    def val_dataloader(self) -> DataLoader:
        return self.eval_dataloader("val")

    def test_dataloader(self) -> DataLoader:
        return self.eval_dataloader("test")

    @property
    def category_ids(self) -> list[str]:
        """The synset ids in use, in category-index order."""
        return list(self._category_list())

    @property
    def category_names(self) -> list[str]:
        """Human-readable names of :attr:`category_ids` (the id itself when unknown)."""
        from recon.data.categories import category_name  # noqa: PLC0415

        return [category_name(c) for c in self._category_list()]


def __getattr__(name: str):
    """``ShapeNetDataModule``, this class's old name, still resolves (with a
    ``DeprecationWarning``) so configs and checkpoints saved by older runs, whose
    ``data._target_`` is ``recon.data.datamodule.ShapeNetDataModule``, keep working."""
    if name == "ShapeNetDataModule":
        warnings.warn("recon.data.datamodule.ShapeNetDataModule is now RendersDataModule; "
                      "update the config's data._target_", DeprecationWarning, stacklevel=2)
        return RendersDataModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
