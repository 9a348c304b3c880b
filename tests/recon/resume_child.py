"""Child process of tests/recon/test_resume.py: one tiny training run, optionally killed with
SIGKILL at the start of a given step, writing what the test compares.

    python -m tests.recon.resume_child DATA OUT MAX_STEPS KILL_AT|-1 CKPT|- RESULT [override ...]

Appends ``step object_index...`` per training batch to ``RESULT.batches`` (flushed at once, so
the lines of a killed run survive) and, when training ends, saves the final weights and
optimizer state to ``RESULT``.
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import torch
from pytorch_lightning import Callback

# A model small enough that a checkpoint per step costs little; edge sampling draws its seeds
# from torch's generator during training (and in the validation previews).
TINY_MODEL = ["renderer=edge", "+model.encoder.channels=[8,16,32]", "+model.encoder.hidden=[64,64]",
              "model.encoder.latent_dim=64", "+model.decoder.hidden=[64,128]", "+model.decoder.subdivisions=2",
              "callbacks.model_checkpoint.every_n_train_steps=1", "trainer.log_every_n_steps=1", "test=false"]


class _KillAt(Callback):
    """SIGKILLs this process at the start of global step ``step`` (no cleanup runs, as with an
    external ``kill -9``)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class _RecordBatches(Callback):
    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        with open(self.path, "a") as handle:
            handle.write(f"{trainer.global_step} {' '.join(map(str, batch['object_index'].tolist()))}\n")
            handle.flush()
            os.fsync(handle.fileno())


def main(argv: list[str]) -> None:
    from recon import train as train_module
    from tests.recon.conftest import compose, tiny_overrides

    data, out, max_steps, kill_at, ckpt, result, *extra = argv
    overrides = [*tiny_overrides(Path(data), Path(out)), *TINY_MODEL, f"trainer.max_steps={max_steps}", *extra]
    if ckpt != "-":
        overrides.append(f"ckpt_path={ckpt}")
    extra_callbacks = [_RecordBatches(Path(result + ".batches"))]
    if int(kill_at) >= 0:
        extra_callbacks.append(_KillAt(int(kill_at)))
    original = train_module.instantiate_callbacks
    train_module.instantiate_callbacks = lambda cfg: [*original(cfg), *extra_callbacks]
    _, objects = train_module.train(compose("train", overrides))
    trainer = objects["trainer"]
    torch.save({"global_step": trainer.global_step, "state_dict": objects["model"].state_dict(),
                "optimizer": trainer.optimizers[0].state_dict(),
                "lr_scheduler": trainer.lr_scheduler_configs[0].scheduler.state_dict()
                if trainer.lr_scheduler_configs else None,
                "sigma": getattr(objects["model"].renderer.options, "sigma", None)}, result)


if __name__ == "__main__":
    main(sys.argv[1:])
