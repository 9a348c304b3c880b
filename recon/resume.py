"""Exact resumption: a run restarted from a checkpoint continues as if never interrupted.

Lightning's checkpoints already restore the weights, the optimizer, the LR scheduler and the
loop counters (``global_step``, from which the module derives ``sigma``). Two things they do
not restore, and which :class:`ExactResume` (``configs/callbacks/default.yaml``,
``callbacks.exact_resume``) adds to the checkpoint as its callback state:

* **the data position.** :class:`recon.data.sampling.ClassBalancedPairSampler` draws a fixed
  key sequence per epoch; a run resumed mid-epoch must continue it, not restart it. The
  callback saves ``(epoch, keys consumed)``, the count taken from Lightning's batch progress
  (``batches processed in the epoch x batch size x processes``, not from the sampler, which
  runs ahead of training because of prefetching), and positions the new sampler with
  :meth:`~recon.data.sampling.ClassBalancedPairSampler.resume` when the datamodule creates it.
  Lightning iterates the train loader as soon as it builds it, before any callback hook, so
  the callback wraps the datamodule's ``train_sampler()`` factory for the duration of the fit
  (Lightning's own route, a loader with ``state_dict``/``load_state_dict``, would need the
  DataLoader class changed in ``recon/data/datamodule.py``).
* **the random number generators** (torch CPU and CUDA, numpy, python ``random``; the edge
  renderer draws its seeds from torch's). Training runs on its own *training stream*: the
  callback swaps the generators' states out when training pauses (validation, epoch end:
  preview renders and each epoch's DataLoader iterator draw from the global generators) and
  back in at the next training batch, so those draws never shift it, and the checkpoint holds
  exactly the state the next batch starts from (whether written mid-epoch or after
  validation). Cost: nothing per step; about 0.2 ms per swap (numpy's state copy dominates)
  at epoch boundaries, validations and checkpoint saves, no device sync. Datasets must not
  draw from the global generators in the main process (ours do not).

Resume with ``ckpt_path=<run>/checkpoints/last.ckpt`` (or ``ckpt_path=last`` with the old
run's folder as ``hydra.run.dir``). Under data-parallel training the checkpoint holds rank 0's
generator states, which every rank restores (ranks are seeded alike by ``seed_everything``).
"""
from __future__ import annotations

import logging
import random
from typing import Any, Callable

import numpy as np
import pytorch_lightning as pl
import torch

__all__ = ["ExactResume", "capture_rng_state", "restore_rng_state"]

log = logging.getLogger(__name__)


def capture_rng_state() -> dict[str, Any]:
    """The states of torch's CPU (and initialised CUDA) generators, numpy's and python's, as
    tensors and plain values (loadable with ``torch.load(weights_only=True)``)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized()
            else [],
            "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                      "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
            "python": random.getstate()}


def restore_rng_state(state: dict[str, Any]) -> None:
    """Sets the generators to a :func:`capture_rng_state` result."""
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        else:
            log.warning("checkpoint has CUDA generator states for %d devices, this machine has %d: not restored",
                        len(cuda), torch.cuda.device_count())
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))


class ExactResume(pl.Callback):
    """Saves and restores the training RNG stream and the sampler position (see the module
    docstring). Keep it enabled for bit-exact resumption."""

    def __init__(self) -> None:
        self._train_rng: dict[str, Any] | None = None
        self._outside_rng: dict[str, Any] | None = None
        self._in_train_stream = False
        self._pending_position: dict[str, int] | None = None
        self._sampler: Any = None
        self._trainer: pl.Trainer | None = None
        self._patched: Any = None

    # ------------------------------------------------------------------ data position
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        self._trainer = trainer
        datamodule = trainer.datamodule
        factory: Callable[[], Any] | None = getattr(datamodule, "train_sampler", None)
        if datamodule is None or not callable(factory):
            log.warning("ExactResume: the datamodule has no train_sampler(); a run resumed mid-epoch will not "
                        "continue the interrupted data sequence")
            return

        def positioned_sampler() -> Any:
            sampler = factory()
            if self._pending_position is not None:
                if hasattr(sampler, "resume"):
                    sampler.resume(**self._pending_position)
                else:
                    log.warning("ExactResume: %s cannot resume mid-epoch", type(sampler).__name__)
                self._pending_position = None
            self._sampler = sampler
            return sampler

        datamodule.train_sampler = positioned_sampler  # an instance attribute shadows the method
        self._patched = datamodule

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit" and self._patched is not None:
            self._patched.__dict__.pop("train_sampler", None)
            self._patched = None

    def _position(self) -> dict[str, int] | None:
        trainer, sampler = self._trainer, self._sampler
        if trainer is None or sampler is None or not hasattr(sampler, "iteration_epoch"):
            return None
        loader = trainer.train_dataloader
        batch_size = getattr(loader, "batch_size", None)
        if batch_size is None:
            return None
        batches = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        return {"epoch": int(sampler.iteration_epoch), "start": int(batches) * int(batch_size) * trainer.world_size}

    # ------------------------------------------------------------------ RNG stream
    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self._in_train_stream:
            return  # consecutive batches of an epoch: the training stream is already active
        if self._train_rng is not None:  # (a fresh run's stream starts from the current state)
            self._outside_rng = capture_rng_state()
            restore_rng_state(self._train_rng)
        self._in_train_stream = True

    def _leave_train_stream(self) -> None:
        if not self._in_train_stream:
            return
        self._train_rng = capture_rng_state()
        if self._outside_rng is not None:
            restore_rng_state(self._outside_rng)
        self._in_train_stream = False

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._leave_train_stream()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._leave_train_stream()  # the next epoch's DataLoader iterator draws its base seed

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._leave_train_stream()

    # ------------------------------------------------------------------ checkpoint state
    def state_dict(self) -> dict[str, Any]:
        rng = capture_rng_state() if self._in_train_stream else self._train_rng
        return {"rng": rng, "position": self._position()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._train_rng = state_dict.get("rng")
        self._in_train_stream = False
        self._pending_position = state_dict.get("position")
