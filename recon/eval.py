"""Evaluation entry point (Hydra): ``recon-eval ckpt_path=PATH [data=synthetic] [splits=[val,test]]``.

Runs through Lightning (``Trainer.validate`` for ``val``, ``Trainer.test`` for ``test``) with
the module's own validation/test step, so the numbers come from the same
:class:`recon.evaluation.iou.ClassIoU` metric as during training (REFERENCE section 2), summed
over processes: ``trainer=ddp`` (or ``ddp_spawn``, ``trainer.devices=N``) evaluates a split on
several devices, each sample exactly once. A progress bar counts the batches. Beside the
model: undeformed-sphere baselines (the model's own template, and the best of several radii,
chosen on the split itself, which flatters the baseline) and, on the real ShapeNet
categories, the published numbers (SoftRas evaluates on val, NMR on test). Printed as tables
and written to ``<output_dir>/iou_<split>.csv`` and ``iou.json``. ``seed`` is set first.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig

from recon.hydra_utils import CONFIG_DIR, print_config, set_project_root

log = logging.getLogger(__name__)

__all__ = ["evaluate", "main"]

SPLIT_LABELS = {"val": "val (the SoftRas protocol)", "test": "test (the NMR protocol)"}
EVALUATED_SPLITS = ("val", "test")


def _checkpoint_path(cfg: DictConfig) -> str:
    from omegaconf import OmegaConf  # noqa: PLC0415

    value = OmegaConf.select(cfg, "ckpt_path", default=None)  # None when absent or ??? (missing)
    if not value:
        raise ValueError("recon-eval needs a checkpoint: pass ckpt_path=PATH, e.g. "
                         "ckpt_path=logs/quickstart/runs/<time>/checkpoints/last.ckpt")
    return str(value)


def _table(split: str, metrics: dict[str, float], names: list[str], synsets: list[str], template_radius: float):
    """The :class:`IoUTable` of ``split`` from the logged metrics (model, spheres, counts)."""
    from recon.data.categories import SHAPENET_CATEGORIES  # noqa: PLC0415
    from recon.evaluation.published import published_columns  # noqa: PLC0415
    from recon.evaluation.report import IoUTable  # noqa: PLC0415

    def column(prefix: str) -> dict[str, float]:
        values = {n: metrics[f"{prefix}/{n}"] for n in names if f"{prefix}/{n}" in metrics}
        return {**values, "mean": metrics.get(f"{prefix}/mean", math.nan)}

    counts = {n: int(metrics[f"{split}/samples/{n}"]) for n in names if f"{split}/samples/{n}" in metrics}
    table = IoUTable(split, [n for n in names if n in counts], counts)
    table.add("ours", column(f"{split}/iou"))
    radii = sorted({float(k.split("/")[1][len("sphere_r"):]) for k in metrics
                    if k.startswith(f"{split}/sphere_r") and k.endswith("/iou/mean")})
    if radii:
        means = {r: metrics[f"{split}/sphere_r{r:g}/iou/mean"] for r in radii}
        best = max(radii, key=lambda r: means[r])
        for label, radius in ((f"template sphere r={template_radius:g}", template_radius),
                              (f"best sphere r={best:g}", best)):
            table.add(label, column(f"{split}/sphere_r{radius:g}/iou"))
    if all(s in SHAPENET_CATEGORIES for s in synsets):
        by_name = dict(zip(synsets, names))
        for name, values in published_columns(split).items():
            table.add_published(name, {by_name.get(k, k): v for k, v in values.items()})
    return table


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Evaluates ``cfg.ckpt_path`` on ``cfg.splits``; returns ``{split: IoUTable}`` and writes the
    files (on the global-zero process)."""
    import pytorch_lightning as pl  # noqa: PLC0415
    from pytorch_lightning.callbacks import TQDMProgressBar  # noqa: PLC0415

    from recon.atomic_io import write_text_atomic  # noqa: PLC0415
    from recon.checkpoints import load_module  # noqa: PLC0415
    from recon.evaluation.baselines import SPHERE_RADII, SphereBaselineCallback  # noqa: PLC0415
    from recon.evaluation.report import IoUTable  # noqa: PLC0415
    from recon.safe_instantiate import check_targets, instantiate  # noqa: PLC0415

    ckpt_path = _checkpoint_path(cfg)
    check_targets(cfg, root=cfg)  # before anything is loaded or built
    splits = list(cfg.splits)
    unknown = [s for s in splits if s not in EVALUATED_SPLITS]
    if unknown:
        raise ValueError(f"splits must be among {list(EVALUATED_SPLITS)}, got {unknown}")
    if cfg.get("extras", {}).get("print_config"):
        print_config(cfg, cfg.paths.output_dir)
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)
    module = load_module(ckpt_path, torch.device("cpu"))  # the trainer moves it to its device
    module.log_sample_counts = True
    datamodule = instantiate(cfg.data, root=cfg, where="data")
    datamodule.prepare_data(stages=splits)  # only the evaluated splits are decompressed
    # The data set evaluated names the classes (its category indices), whatever the training set was.
    module.hparams.category_names = list(datamodule.category_names)
    template_radius = 0.5 * float(module.net.decoder.template_scale)  # the untrained model's sphere
    # tqdm, not rich: readable in the log file of a batch job (Slurm) as well as in a terminal.
    callbacks: list[Any] = [TQDMProgressBar(refresh_rate=int(cfg.get("progress_refresh_rate", 10)))]
    if cfg.get("sphere_baselines", True):
        callbacks.append(SphereBaselineCallback(sorted({*SPHERE_RADII, template_radius})))
    trainer = instantiate(cfg.trainer, root=cfg, where="trainer", callbacks=callbacks, logger=False,
                          enable_checkpointing=False)
    out = Path(cfg.paths.output_dir)
    tables = {}
    for split in splits:
        run = trainer.validate if split == "val" else trainer.test
        run(model=module, datamodule=datamodule, verbose=False)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(f"{split}/")}
        tables[split] = _table(split, metrics, datamodule.category_names, datamodule.category_ids, template_radius)
    if trainer.is_global_zero:
        for split, table in tables.items():
            write_text_atomic(out / f"iou_{split}.csv", table.csv())
            print(f"\n3D IoU x100, {SPLIT_LABELS[split]}; checkpoint {ckpt_path}\n")
            print(table.markdown())
        IoUTable.write_json(out / "iou.json", list(tables.values()), {"checkpoint": ckpt_path})
        print(f"\nwrote {out / 'iou.json'} and " + ", ".join(str(out / f'iou_{s}.csv') for s in tables))
    return tables


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def _hydra_main(cfg: DictConfig) -> None:
    evaluate(cfg)


def main() -> None:
    set_project_root()
    _hydra_main()


if __name__ == "__main__":
    main()
