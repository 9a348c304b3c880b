"""Training entry point (Hydra): ``recon-train experiment=quickstart`` or ``python scripts/train.py``.

Builds the datamodule, the :class:`recon.module.ReconstructionModule`, callbacks, loggers and
the Lightning trainer from ``configs/train.yaml``; fits (``ckpt_path=`` resumes), tests the
model ``evaluate_checkpoint`` names (the final weights by default, as the references do) and
returns its ``optimized_metric`` to the sweeper; ``<run>/results.json`` records what was
evaluated and which numbers are selection-biased. Each job of a ``-m`` sweep is its own wandb run.

Every ``_target_`` goes through the allow-listed :func:`recon.safe_instantiate.instantiate`
(checked for the whole config before anything is built). The trainer gets
:class:`recon.checkpoint_io.AtomicCheckpointIO`: checkpoints are written atomically (fsync +
rename) and read with ``weights_only=True``. Resuming (``ckpt_path=PATH`` or ``ckpt_path=last``)
is exact with the default callbacks (:mod:`recon.resume`, :mod:`recon.nan_guard`).
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, ListConfig

from recon.hydra_utils import (CONFIG_DIR, check_sweep_strategy, configure_wandb_mode, instantiate_callbacks,
                               instantiate_loggers, print_config, set_project_root)

log = logging.getLogger(__name__)

__all__ = ["train", "evaluate_trained", "main"]


def train(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Runs one training job; returns (metrics, objects: datamodule, model, trainer)."""
    import pytorch_lightning as pl  # noqa: PLC0415

    from recon.safe_instantiate import check_targets, instantiate  # noqa: PLC0415

    check_targets(cfg, root=cfg)  # the whole config, before anything is imported or built
    check_sweep_strategy(cfg)
    configure_wandb_mode(cfg)
    if cfg.get("extras", {}).get("ignore_warnings"):
        warnings.filterwarnings("ignore")
    if cfg.get("extras", {}).get("print_config"):
        print_config(cfg, cfg.paths.output_dir)
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)

    log.info("instantiating datamodule <%s>", cfg.data._target_)
    datamodule = instantiate(cfg.data, root=cfg, where="data")
    stages = (["train", "val"] if cfg.get("train", True) else ["val"]) + (["test"] if cfg.get("test", False) else [])
    datamodule.prepare_data(stages=stages)
    log.info("instantiating model <%s>", cfg.model._target_)
    model = instantiate(cfg.model, root=cfg, where="model", category_names=datamodule.category_names)
    callbacks = instantiate_callbacks(cfg)
    loggers = instantiate_loggers(cfg)
    trainer = instantiate(cfg.trainer, root=cfg, where="trainer", callbacks=callbacks, logger=loggers or False,
                          plugins=_checkpoint_plugins(cfg))
    for logger in loggers:
        logger.log_hyperparams({"config": _plain_config(cfg)})

    try:
        if cfg.get("train", True):
            try:
                trainer.fit(model=model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)
            except Exception as error:
                _raise_non_finite_cause(trainer, error)
                raise
        metrics = evaluate_trained(cfg, trainer, model, datamodule)
    finally:
        _finish_wandb_run(loggers)  # each -m trial is its own wandb run
    return metrics, {"datamodule": datamodule, "model": model, "trainer": trainer}


EVALUATED = ("final", "best")


def evaluate_trained(cfg: DictConfig, trainer: Any, model: Any, datamodule: Any) -> dict[str, float]:
    """Validates (and with ``cfg.test``, tests) the model ``cfg.evaluate_checkpoint`` names and
    returns its metrics (the sweeper's ``optimized_metric`` among them).

    ``final``: the weights after the last step (after ``trainer.fit``; else the ``ckpt_path``
    given), what both references evaluate. ``best``: the checkpoint with the best monitored
    value; its validation numbers are then selection-biased, and ``results.json`` says so.
    Run through ``trainer.validate``/``trainer.test``, so the values are the same whatever the
    strategy (``ddp_spawn`` included: they come back from the processes that computed them).
    """
    which = str(cfg.get("evaluate_checkpoint", "final"))
    if which not in EVALUATED:
        raise ValueError(f"evaluate_checkpoint must be one of {list(EVALUATED)}, got {which!r}")
    trained = bool(cfg.get("train", True))
    checkpoint = trainer.checkpoint_callback
    ckpt, label, biased = None, "final", False
    if not trained:
        ckpt = cfg.get("ckpt_path")
        if not ckpt:
            raise ValueError("train=false evaluates a checkpoint: pass ckpt_path=PATH")
        label = f"given checkpoint {ckpt}"
    elif which == "best":
        best = getattr(checkpoint, "best_model_path", "") if checkpoint is not None else ""
        if best:
            ckpt, label, biased = best, f"best by {checkpoint.monitor} ({best})", True
        else:
            log.warning("evaluate_checkpoint=best but no best checkpoint was saved; evaluating the final weights")
    results: dict[str, Any] = {"evaluated": label, "selection_biased_splits": ["val"] if biased else []}
    metrics: dict[str, float] = {}
    if trainer.limit_val_batches != 0:
        validated = trainer.validate(model=model, datamodule=datamodule, ckpt_path=ckpt, weights_only=True,
                                     verbose=False)
        metrics.update({k: float(v) for k, v in (validated[0] if validated else {}).items()})
        results["val"] = {k: v for k, v in metrics.items() if k.startswith("val/")}
    if cfg.get("test", False):
        tested = trainer.test(model=model, datamodule=datamodule, ckpt_path=ckpt, weights_only=True)
        tested_metrics = {k: float(v) for k, v in (tested[0] if tested else {}).items()}
        metrics.update(tested_metrics)
        results["test"] = {k: v for k, v in tested_metrics.items() if k.startswith("test/")}
    if checkpoint is not None and getattr(checkpoint, "best_model_path", ""):
        results["best_checkpoint"] = checkpoint.best_model_path
    if trainer.is_global_zero:
        _write_results(cfg, results)
        note = " (selection-biased: chosen on val)" if biased else ""
        log.info("evaluated %s; val %s%s", label, metrics.get("val/iou/mean", "n/a"), note)
    return metrics


def _write_results(cfg: DictConfig, results: dict[str, Any]) -> None:
    import json  # noqa: PLC0415

    from recon.atomic_io import write_text_atomic  # noqa: PLC0415

    write_text_atomic(Path(cfg.paths.output_dir) / "results.json", json.dumps(results, indent=2))


def _finish_wandb_run(loggers: list[Any]) -> None:
    """Ends the wandb run of this job, so the next job of a ``-m`` sweep starts its own (a
    WandbLogger otherwise attaches to the run still open in the process)."""
    if not any(type(logger).__name__ == "WandbLogger" for logger in loggers):
        return
    import wandb  # noqa: PLC0415

    if wandb.run is not None:
        wandb.finish()


def _raise_non_finite_cause(trainer: Any, error: BaseException) -> None:
    """If a :class:`recon.nan_guard.NonFiniteGuard` found that a NaN/Inf step caused ``error``
    (e.g. the renderer refusing NaN vertices the step after), raises its diagnosis instead."""
    from recon.nan_guard import NonFiniteGuard  # noqa: PLC0415

    for callback in trainer.callbacks:
        if isinstance(callback, NonFiniteGuard) and callback.error is not None and callback.error is not error:
            raise callback.error from error


def _checkpoint_plugins(cfg: DictConfig) -> list[Any]:
    """The trainer's ``plugins``: those configured (``trainer.plugins``) plus
    :class:`recon.checkpoint_io.AtomicCheckpointIO` unless a CheckpointIO is configured."""
    from lightning_fabric.plugins import CheckpointIO  # noqa: PLC0415

    from recon.checkpoint_io import AtomicCheckpointIO  # noqa: PLC0415
    from recon.safe_instantiate import instantiate  # noqa: PLC0415

    configured = cfg.trainer.get("plugins") or []
    plugins = [instantiate(p, root=cfg, where="trainer.plugins") if isinstance(p, DictConfig) else p
               for p in (configured if isinstance(configured, (list, tuple, ListConfig)) else [configured])]
    if not any(isinstance(p, CheckpointIO) for p in plugins):
        plugins.append(AtomicCheckpointIO())
    return plugins


def _plain_config(cfg: DictConfig) -> dict:
    from omegaconf import OmegaConf  # noqa: PLC0415

    return OmegaConf.to_container(cfg, resolve=True)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def _hydra_main(cfg: DictConfig) -> float | None:
    metrics, _ = train(cfg)
    name = cfg.get("optimized_metric")
    if name:
        if name not in metrics:
            raise KeyError(f"optimized_metric {name!r} was not logged; logged: {sorted(metrics)}")
        return metrics[name]
    return None


def main() -> None:
    set_project_root()
    _hydra_main()


if __name__ == "__main__":
    main()
