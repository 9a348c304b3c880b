"""Evaluation entry point (Hydra): ``recon-eval ckpt_path=PATH [data=synthetic] [splits=[val,test]]``.

For each split: 3D IoU per class and the mean over classes (REFERENCE section 2), beside
undeformed-sphere baselines (the model's own template, and the best of several radii, which
is chosen on the split itself and so flatters the baseline) and, on the real ShapeNet
categories, the published numbers (SoftRas evaluates on val, NMR on test). Printed as
tables and written to ``<output_dir>/iou_<split>.csv`` and ``iou.json``.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig

from recon.checkpoints import load_module, resolve_device
from recon.hydra_utils import CONFIG_DIR, print_config, set_project_root

log = logging.getLogger(__name__)

__all__ = ["evaluate", "evaluate_split", "main"]

SPLIT_LABELS = {"val": "val (the SoftRas protocol)", "test": "test (the NMR protocol)"}


@torch.no_grad()
def evaluate_split(module, datamodule, split: str, device: torch.device, sphere_baselines: bool):
    """The :class:`IoUTable` of ``split``."""
    from torch.utils.data import DataLoader  # noqa: PLC0415

    from recon.data.categories import SHAPENET_CATEGORIES  # noqa: PLC0415
    from recon.evaluation.baselines import SPHERE_RADII, SphereBaselines  # noqa: PLC0415
    from recon.evaluation.iou import IoUAccumulator, mesh_iou  # noqa: PLC0415
    from recon.evaluation.published import published_columns  # noqa: PLC0415
    from recon.evaluation.report import IoUTable  # noqa: PLC0415

    names = datamodule.category_names
    ours = IoUAccumulator(names)
    template_radius = 0.5 * float(module.net.decoder.template_scale)  # the untrained model's sphere
    spheres = SphereBaselines(sorted({*SPHERE_RADII, template_radius})) if sphere_baselines else None
    sphere_acc = [IoUAccumulator(names) for _ in (spheres.radii if spheres else ())]
    loader = DataLoader(datamodule.eval_dataset(split), batch_size=datamodule.eval_batch_size,
                        num_workers=datamodule.num_workers, shuffle=False)
    for batch in loader:
        prediction = module.net(batch["images"].to(device))
        iou = mesh_iou(prediction.vertices.float().cpu(), prediction.faces.cpu(), batch["voxels"])
        ours.update(iou, batch["category"])
        if spheres is not None:
            for acc, scores in zip(sphere_acc, spheres.scores(batch["voxels"])):
                acc.update(scores, batch["category"])
    counts = {n: int(ours.counts[i]) for i, n in enumerate(names) if ours.counts[i] > 0}
    table = IoUTable(split, [n for n in names if n in counts], counts)
    table.add("ours", {**ours.per_class(), "mean": ours.mean()})
    if spheres is not None:
        template = sphere_acc[spheres.radii.index(template_radius)]
        best = max(range(len(sphere_acc)), key=lambda i: sphere_acc[i].mean())
        for label, acc in ((f"template sphere r={template_radius:g}", template),
                           (f"best sphere r={spheres.radii[best]:g}", sphere_acc[best])):
            table.add(label, {**acc.per_class(), "mean": acc.mean()})
    synsets = datamodule.category_ids
    if all(s in SHAPENET_CATEGORIES for s in synsets):
        by_name = dict(zip(synsets, names))
        for column, values in published_columns(split).items():
            table.add_published(column, {by_name.get(k, k): v for k, v in values.items()})
    return table


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Evaluates ``cfg.ckpt_path`` on ``cfg.splits``; returns ``{split: IoUTable}`` and writes the files."""
    from recon.atomic_io import write_text_atomic  # noqa: PLC0415
    from recon.evaluation.report import IoUTable  # noqa: PLC0415
    from recon.safe_instantiate import check_targets, instantiate  # noqa: PLC0415

    check_targets(cfg, root=cfg)  # before anything is loaded or built
    if cfg.get("extras", {}).get("print_config"):
        print_config(cfg, cfg.paths.output_dir)
    device = resolve_device(cfg.get("device", "auto"))
    module = load_module(cfg.ckpt_path, device)
    datamodule = instantiate(cfg.data, root=cfg, where="data")
    datamodule.prepare_data()
    out = Path(cfg.paths.output_dir)
    tables = {}
    for split in cfg.splits:
        table = evaluate_split(module, datamodule, split, device, bool(cfg.get("sphere_baselines", True)))
        tables[split] = table
        write_text_atomic(out / f"iou_{split}.csv", table.csv())
        print(f"\n3D IoU x100, {SPLIT_LABELS.get(split, split)}; checkpoint {cfg.ckpt_path}\n")
        print(table.markdown())
    IoUTable.write_json(out / "iou.json", list(tables.values()), {"checkpoint": str(cfg.ckpt_path)})
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
