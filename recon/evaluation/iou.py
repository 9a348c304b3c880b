"""3D IoU and its per-class / mean aggregation (REFERENCE section 2).

Each (object, view) pair is one sample; a class's IoU is the mean over its samples;
the reported number is the mean over classes (:class:`ClassIoU`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torchmetrics import Metric


def voxel_iou(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """``|pred AND gt| / |pred OR gt|`` per sample.

    Args: ``pred``, ``gt``: ``(B, S, S, S)`` bool (or anything cast to bool), same axes.
    Returns: ``(B,)`` float32; 1.0 where both grids are empty.
    """
    pred = torch.as_tensor(pred).bool()
    gt = torch.as_tensor(gt).bool().to(pred.device)
    if pred.shape != gt.shape:
        raise ValueError(f"voxel_iou: shapes differ, {tuple(pred.shape)} vs {tuple(gt.shape)}")
    inter = (pred & gt).flatten(1).sum(1).float()
    union = (pred | gt).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def mesh_iou(vertices: torch.Tensor, faces: torch.Tensor, gt_voxels: torch.Tensor) -> torch.Tensor:
    """Voxelize predicted meshes and score them against ground-truth voxels.

    ``vertices (B,V,3)`` in [-0.5, 0.5], ``faces (F,3)`` or ``(B,F,3)``, ``gt_voxels
    (B,32,32,32)`` bool in the dataset's axis order -> ``(B,)`` float32 IoU (CPU).
    """
    from recon.evaluation.voxelize import voxelize  # noqa: PLC0415

    gt = torch.as_tensor(gt_voxels).detach().cpu()
    return voxel_iou(voxelize(vertices, faces, size=gt.shape[-1]), gt)


class ClassIoU(Metric):
    """The protocol's aggregation of per-sample IoUs (REFERENCE section 2) as a torchmetrics
    ``Metric``: per-class sums of IoU and sample counts, summed over processes on ``compute``.

    ``update(iou (B,), category (B,) int)``; ``compute()`` returns a :class:`IoUSummary`
    (class IoU = mean over its samples; ``mean`` = mean over the classes seen). Validation,
    test and ``recon-eval`` all use it, so a number means the same thing everywhere, on one
    process or many (the states are float64 sums, so the all-reduce is exact for any split
    into processes up to float64 rounding of the sums).
    """

    full_state_update = False
    higher_is_better = True
    is_differentiable = False

    def __init__(self, category_names: Sequence[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.names = list(category_names)
        if not self.names:
            raise ValueError("ClassIoU needs at least one category name")
        self.add_state("sums", torch.zeros(len(self.names), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("counts", torch.zeros(len(self.names), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, iou: torch.Tensor, category: torch.Tensor) -> None:
        iou = torch.as_tensor(iou).detach().to(self.sums.device, torch.float64).flatten()
        cat = torch.as_tensor(category).detach().to(self.sums.device, torch.long).flatten()
        if iou.shape != cat.shape:
            raise ValueError(f"ClassIoU.update: {iou.numel()} IoUs for {cat.numel()} categories")
        if bool(((cat < 0) | (cat >= len(self.names))).any()):  # one host sync
            raise ValueError(f"ClassIoU.update: category index out of range [0, {len(self.names)})")
        self.sums.index_add_(0, cat, iou)
        self.counts.index_add_(0, cat, torch.ones_like(iou))

    def compute(self) -> "IoUSummary":
        return IoUSummary.from_sums(self.names, self.sums.cpu(), self.counts.cpu())


@dataclass
class IoUSummary:  # not frozen: torchmetrics rebuilds dataclass results field by field
    """Per-class IoU (mean over samples) and sample counts of the classes seen, and their mean."""

    per_class: dict[str, float]
    counts: dict[str, int]

    @staticmethod
    def from_sums(names: Sequence[str], sums: torch.Tensor, counts: torch.Tensor) -> "IoUSummary":
        seen = [i for i in range(len(names)) if counts[i] > 0]
        return IoUSummary({names[i]: float(sums[i] / counts[i]) for i in seen},
                          {names[i]: int(counts[i]) for i in seen})

    @property
    def mean(self) -> float:
        """Mean over the classes seen (the reported number); NaN when nothing was seen."""
        return float(sum(self.per_class.values()) / len(self.per_class)) if self.per_class else float("nan")

    def as_dict(self, prefix: str = "iou") -> dict[str, float]:
        """``{f"{prefix}/mean": ..., f"{prefix}/{class}": ...}`` for loggers."""
        return {f"{prefix}/mean": self.mean, **{f"{prefix}/{k}": v for k, v in self.per_class.items()}}

    def table(self, title: str = "IoU") -> str:
        """A markdown table: one row per class (IoU x 100, sample count), then the mean."""
        rows = [f"| class | {title} | samples |", "|---|---:|---:|"]
        rows += [f"| {n} | {100 * v:.1f} | {self.counts[n]} |" for n, v in self.per_class.items()]
        rows.append(f"| **mean** | **{100 * self.mean:.1f}** | {sum(self.counts.values())} |")
        return "\n".join(rows)
