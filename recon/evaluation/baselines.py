"""Undeformed-sphere baselines: what a reconstruction scores without looking at the image."""
from __future__ import annotations

from collections.abc import Sequence

import pytorch_lightning as pl
import torch

from recon.evaluation.iou import ClassIoU, voxel_iou
from recon.evaluation.voxelize import voxelize
from recon.models.template import icosphere

__all__ = ["SPHERE_RADII", "sphere_voxels", "SphereBaselines", "SphereBaselineCallback"]

SPHERE_RADII = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def sphere_voxels(radii: Sequence[float], size: int = 32) -> torch.Tensor:
    """Protocol voxelizations ``(R, size, size, size)`` bool of the template icosphere at each radius."""
    vertices, faces = icosphere(3)
    scaled = torch.stack([vertices * float(r) for r in radii])
    return torch.as_tensor(voxelize(scaled, faces, size=size)).bool()


class SphereBaselines:
    """IoU of fixed spheres of several radii against ground-truth voxels.

    ``scores(gt (B, S, S, S)) -> (R, B)`` float32; the sphere does not depend on the view, so
    callers may score each object once.
    """

    def __init__(self, radii: Sequence[float] = SPHERE_RADII, size: int = 32) -> None:
        self.radii = tuple(float(r) for r in radii)
        self.grids = sphere_voxels(self.radii, size)

    def scores(self, gt: torch.Tensor) -> torch.Tensor:
        gt = torch.as_tensor(gt).bool().cpu()
        return torch.stack([voxel_iou(grid.expand_as(gt), gt) for grid in self.grids])


class SphereBaselineCallback(pl.Callback):
    """Scores the undeformed spheres of ``radii`` on every validation/test batch beside the
    model, with one :class:`recon.evaluation.iou.ClassIoU` per radius (summed over processes
    like the model's), and logs ``{stage}/sphere_r{radius:g}/iou/{class}`` and ``.../mean``."""

    def __init__(self, radii: Sequence[float] = SPHERE_RADII) -> None:
        self.spheres = SphereBaselines(radii)
        self._metrics: list[ClassIoU] | None = None

    def _start(self, pl_module: pl.LightningModule) -> None:
        self._metrics = [ClassIoU(pl_module.category_names()).to(pl_module.device) for _ in self.spheres.radii]

    def _update(self, pl_module: pl.LightningModule, batch: dict) -> None:
        if self._metrics is None:
            self._start(pl_module)
        for metric, scores in zip(self._metrics, self.spheres.scores(batch["voxels"])):
            metric.update(scores, batch["category"])

    def _log(self, pl_module: pl.LightningModule, stage: str) -> None:
        metrics, self._metrics = self._metrics, None
        for radius, metric in zip(self.spheres.radii, metrics or ()):
            pl_module.log_dict(metric.compute().as_dict(f"{stage}/sphere_r{radius:g}/iou"), sync_dist=True)

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._start(pl_module)

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self._start(pl_module)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._update(pl_module, batch)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._update(pl_module, batch)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self._log(pl_module, "val")

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        self._log(pl_module, "test")
