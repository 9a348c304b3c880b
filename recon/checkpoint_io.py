"""Lightning's checkpoint file I/O, made atomic, durable and safe to load.

:class:`AtomicCheckpointIO` is passed to the trainer by ``recon/train.py`` (``plugins=``), so
every checkpoint Lightning writes (``ModelCheckpoint``'s top-k and ``last.ckpt``,
``trainer.save_checkpoint``) and reads (``trainer.fit(ckpt_path=...)`` resume,
``trainer.test(ckpt_path="best")``) goes through it:

* save: ``torch.save`` streamed into :func:`recon.atomic_io.open_atomic` (temporary file in the
  checkpoint folder, fsync, ``os.replace``, fsync of the folder). Lightning's own
  ``_atomic_save`` serialises to memory and then writes the target in place without fsync, so
  a crash or a full disk during the write can leave a truncated ``last.ckpt``; here the
  previous checkpoint stays intact and a full disk raises
  :class:`recon.atomic_io.DiskFullError` naming the file.
* load: :func:`recon.safe_load.safe_torch_load` (``weights_only=True`` always; Lightning passes
  ``weights_only=None`` by default, which means full unpickling under
  ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` or torch < 2.6).
"""
from __future__ import annotations

import os
from typing import Any, Callable, Optional

import torch
from lightning_fabric.utilities.types import _PATH
from pytorch_lightning.plugins.io import TorchCheckpointIO

from recon.atomic_io import open_atomic
from recon.safe_load import safe_torch_load

__all__ = ["AtomicCheckpointIO"]


def _is_remote(path: _PATH) -> bool:
    return "://" in str(path)


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` with atomic + fsync-ed local saves and weights-only loads."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: _PATH, storage_options: Optional[Any] = None) -> None:
        if storage_options is not None or _is_remote(path):
            # fsspec targets (s3://...) have no local rename/fsync: Lightning's writer handles them.
            return super().save_checkpoint(checkpoint, path, storage_options)
        with open_atomic(os.fspath(path)) as handle:
            torch.save(checkpoint, handle)

    def load_checkpoint(self, path: _PATH, map_location: Optional[Callable] = lambda storage, loc: storage,
                        weights_only: Optional[bool] = None) -> dict[str, Any]:
        if weights_only is False:
            raise ValueError(f"refusing to load checkpoint {str(path)!r} with weights_only=False: recon loads "
                             "checkpoints with weights_only=True only (they hold plain tensors and containers)")
        if _is_remote(path):
            return super().load_checkpoint(path, map_location=map_location, weights_only=True)
        return safe_torch_load(os.fspath(path), "checkpoint", map_location=map_location)
