"""Training entry point (Hydra): ``recon-train experiment=quickstart`` or ``python scripts/train.py``.

Builds the datamodule, the :class:`recon.module.ReconstructionModule`, callbacks, loggers and
the Lightning trainer from ``configs/train.yaml``; fits (``ckpt_path=`` resumes), tests the
best checkpoint and returns ``optimized_metric`` for the Optuna sweeper.

Every ``_target_`` goes through the allow-listed :func:`recon.safe_instantiate.instantiate`
(checked for the whole config before anything is built). The trainer gets
:class:`recon.checkpoint_io.AtomicCheckpointIO`: checkpoints are written atomically (fsync +
rename) and read with ``weights_only=True``. Resuming (``ckpt_path=PATH`` or ``ckpt_path=last``)
is exact with the default callbacks (:mod:`recon.resume`, :mod:`recon.nan_guard`).
"""
from __future__ import annotations

import logging
import warnings
from typing import Any

import hydra
from omegaconf import DictConfig, ListConfig

from recon.hydra_utils import (CONFIG_DIR, check_sweep_strategy, configure_wandb_mode, instantiate_callbacks,
                               instantiate_loggers, print_config, set_project_root)

log = logging.getLogger(__name__)

__all__ = ["train", "main"]


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
    datamodule.prepare_data()
    log.info("instantiating model <%s>", cfg.model._target_)
    model = instantiate(cfg.model, root=cfg, where="model", category_names=datamodule.category_names)
    callbacks = instantiate_callbacks(cfg)
    loggers = instantiate_loggers(cfg)
    trainer = instantiate(cfg.trainer, root=cfg, where="trainer", callbacks=callbacks, logger=loggers or False,
                          plugins=_checkpoint_plugins(cfg))
    for logger in loggers:
        logger.log_hyperparams({"config": _plain_config(cfg)})

    if cfg.get("train", True):
        try:
            trainer.fit(model=model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)
        except Exception as error:
            _raise_non_finite_cause(trainer, error)
            raise
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    checkpoint = trainer.checkpoint_callback
    if checkpoint is not None and checkpoint.best_model_score is not None and checkpoint.monitor:
        # The sweeper optimizes the best validation score, not the last one.
        metrics[checkpoint.monitor] = float(checkpoint.best_model_score)

    if cfg.get("test", False):
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") if cfg.get("train", True) else ""
        ckpt = best or cfg.get("ckpt_path")
        if cfg.get("train", True) and not best:
            log.warning("no best checkpoint was saved; testing the current weights")
            ckpt = None
        trainer.test(model=model, datamodule=datamodule, ckpt_path=ckpt, weights_only=True)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    if trainer.checkpoint_callback is not None and trainer.is_global_zero:
        log.info("best checkpoint: %s", trainer.checkpoint_callback.best_model_path)
    return metrics, {"datamodule": datamodule, "model": model, "trainer": trainer}


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
