"""Stopping training at the first NaN/Inf loss or gradient, with the step and the objects.

:class:`NonFiniteGuard` is a Lightning callback (``configs/callbacks/default.yaml``,
``callbacks.non_finite_guard``). For every training batch it records, **on the device and
without a host sync**: whether the loss is finite (``on_before_backward``), whether every
gradient is finite (``on_before_optimizer_step``: the sum of every gradient, NaN/Inf as soon
as one element is), and references
to the batch's ``object_index`` / ``category`` tensors. Every ``check_every`` steps
(default: the trainer's ``log_every_n_steps``, where Lightning already syncs to log the
loss), before every checkpoint is written, at each epoch end, at the end of training and when
training fails (the step after a NaN loss the renderer refuses NaN vertices: that error is
then explained, ``recon/train.py`` raising the diagnosis) it copies the flags of the steps
since the last check to the host in one transfer; on the first non-finite one it raises
:class:`NonFiniteTrainingError`::

    non-finite loss (nan) at global step 2 (epoch 1, batch 0): object_index [1, 0, 2, 2],
    category [0, 1, 1, 0] ...

Cost per step: no synchronisation, a few small kernels plus one read of the gradients (a
sum per parameter tensor): about 4 ms per step on a 2-core CPU for the 26M-parameter default model
(``scripts/bench_train.py``, last row), about 0.5% of a
quickstart step (~0.5 s); on a GPU the same read of ~100 MB takes tens of microseconds and
the kernels are queued asynchronously. One device-to-host copy of ``2 * check_every``
booleans per check (``check_gradients=false`` drops the gradient read). A
bad step is detected at most ``check_every`` steps late (the weights may already be NaN by
then), but never saved: the pre-checkpoint check refuses to write a checkpoint after it.

With fp16 mixed precision (a ``GradScaler``), overflowing gradients are expected and skipped
by the scaler, so only the loss is checked there.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytorch_lightning as pl
import torch

__all__ = ["NonFiniteGuard", "NonFiniteTrainingError"]

log = logging.getLogger(__name__)


class NonFiniteTrainingError(RuntimeError):
    """A training loss or gradient was NaN or Inf. ``step``, ``epoch``, ``batch_idx``,
    ``what`` (``"loss"`` / ``"gradient"``), ``object_index`` and ``category`` (lists) describe
    the first bad batch."""

    def __init__(self, message: str, step: int, epoch: int, batch_idx: int, what: str,  # noqa: PLR0913
                 object_index: list[int] | None, category: list[int] | None) -> None:
        super().__init__(message)
        self.step, self.epoch, self.batch_idx, self.what = step, epoch, batch_idx, what
        self.object_index, self.category = object_index, category


@dataclass
class _Record:
    """One training batch, its tensors still on the device."""

    step: int
    epoch: int
    batch_idx: int
    flags: torch.Tensor  # (2,) bool: [loss non-finite, gradient non-finite]
    loss: torch.Tensor | None
    object_index: torch.Tensor | None
    category: torch.Tensor | None


def _gradient_sum(module: torch.nn.Module) -> torch.Tensor | None:
    """The sum of all gradient elements: NaN/Inf when any element is (or when finite
    elements overflow the dtype, a blow-up as well); ``None`` without gradients. A plain
    reduction per tensor, the cheapest full pass (the max-abs norm costs ~15x more on the CPU)."""
    sums = [p.grad.sum() for p in module.parameters() if p.grad is not None]
    if not sums:
        return None
    device = sums[0].device
    return torch.stack([s.to(device, torch.float32) for s in sums]).sum()


class NonFiniteGuard(pl.Callback):
    """Raises :class:`NonFiniteTrainingError` at the first NaN/Inf training loss or gradient
    (see the module docstring for when it checks and what it costs).

    check_every: steps between host checks (``None``: the trainer's ``log_every_n_steps``).
    check_gradients: also check the gradients (off automatically under a ``GradScaler``).
    """

    def __init__(self, check_every: int | None = None, check_gradients: bool = True) -> None:
        if check_every is not None and int(check_every) < 1:
            raise ValueError(f"check_every must be >= 1 or null, got {check_every}")
        self.check_every = int(check_every) if check_every is not None else None
        self.check_gradients = bool(check_gradients)
        self._records: list[_Record] = []
        self._loss_bad: torch.Tensor | None = None
        self._grad_bad: torch.Tensor | None = None
        self._batch: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None)
        self._loss: torch.Tensor | None = None
        self._step = 0
        self.error: NonFiniteTrainingError | None = None

    # ------------------------------------------------------------------ recording (no sync)
    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        self._loss_bad = self._grad_bad = self._loss = None
        self._step = trainer.global_step  # the step this batch computes (as the sigma schedule counts)
        get = batch.get if isinstance(batch, dict) else (lambda key: None)
        self._batch = (get("object_index"), get("category"))

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor) -> None:
        loss = loss.detach()
        self._loss = loss
        self._loss_bad = ~torch.isfinite(loss).all()

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        if not self.check_gradients or getattr(trainer.precision_plugin, "scaler", None) is not None:
            return
        total = _gradient_sum(pl_module)
        if total is not None:
            self._grad_bad = ~torch.isfinite(total)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self._loss_bad is None and self._grad_bad is None:
            return  # the step returned no loss (skipped): nothing to check
        device = (self._loss_bad if self._loss_bad is not None else self._grad_bad).device
        false = torch.zeros((), dtype=torch.bool, device=device)
        flags = torch.stack([self._loss_bad if self._loss_bad is not None else false,
                             self._grad_bad.to(device) if self._grad_bad is not None else false])
        self._records.append(_Record(self._step, trainer.current_epoch, batch_idx, flags, self._loss, *self._batch))
        self._loss_bad = self._grad_bad = self._loss = None
        self._batch = (None, None)
        every = self.check_every or max(1, int(getattr(trainer, "log_every_n_steps", 50) or 50))
        if len(self._records) >= every:
            self.check(trainer)

    # ------------------------------------------------------------------ checking (one sync)
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.check(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.check(trainer)

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        self.check(trainer)  # never write a checkpoint whose weights came from a bad step

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """Training failed before the next check, typically *because* of the bad step (the
        renderer refuses NaN vertices one step later): diagnose it now. The diagnosis is kept
        in :attr:`error` (``recon/train.py`` raises it, chained to ``exception``) and added
        to ``exception`` as a note; Lightning then tears down and re-raises as usual."""
        if isinstance(exception, NonFiniteTrainingError) or not self._records:
            return
        try:
            self.check(trainer, collective=False)
        except NonFiniteTrainingError as error:
            self.error = error
            if hasattr(exception, "add_note"):
                exception.add_note(f"caused by: {error}")

    def check(self, trainer: pl.Trainer, collective: bool = True) -> None:
        """Inspects the steps recorded since the last check (one device-to-host copy) and
        raises :class:`NonFiniteTrainingError` for the first bad one (``collective``: agree
        with the other processes first, so they all stop)."""
        records, self._records = self._records, []
        local = torch.stack([r.flags.to(records[0].flags.device) for r in records]).cpu() if records else None
        bad_here = bool(local.any()) if local is not None else False
        if collective and trainer.world_size > 1:
            # every rank checks at the same steps; stop them all together (no rank left waiting)
            bad_anywhere = trainer.strategy.reduce_boolean_decision(bad_here, all=False)
            if bad_anywhere and not bad_here:
                raise NonFiniteTrainingError(
                    f"non-finite loss or gradient on another training process (checked at global step "
                    f"{trainer.global_step}); see that rank's error for the step and objects",
                    trainer.global_step, trainer.current_epoch, -1, "other rank", None, None)
        if not bad_here:
            return
        first = int(local.any(dim=1).nonzero()[0, 0])
        record = records[first]
        loss_bad, grad_bad = (bool(v) for v in local[first])
        what = "loss" if loss_bad else "gradient"
        objects = record.object_index.tolist() if record.object_index is not None else None
        categories = record.category.tolist() if record.category is not None else None
        value = f" ({float(record.loss)})" if loss_bad and record.loss is not None and record.loss.numel() == 1 \
            else ""
        message = (f"non-finite {what}{value} at global step {record.step} (epoch {record.epoch}, batch "
                   f"{record.batch_idx}): object_index {objects}, category {categories}. Training stopped; the "
                   "checkpoints written before this step are unaffected")
        log.error(message)
        raise NonFiniteTrainingError(message, record.step, record.epoch, record.batch_idx, what, objects,
                                     categories)
