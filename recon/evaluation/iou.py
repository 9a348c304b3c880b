"""3D IoU and its per-class / mean aggregation (REFERENCE section 2).

Each (object, view) pair is one sample; a class's IoU is the mean over its samples;
the reported number is the mean over classes.
"""
from __future__ import annotations

from typing import Sequence

import torch


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


class IoUAccumulator:
    """Accumulates per-sample IoUs by category.

    ``update(iou (B,), category (B,) int)``; ``per_class()`` gives the mean per category
    seen; ``mean()`` the mean over those classes. ``sums``/``counts`` are plain tensors,
    so distributed code can all-reduce them before reading the result.
    """

    def __init__(self, category_names: Sequence[str]) -> None:
        self.names = list(category_names)
        self.sums = torch.zeros(len(self.names), dtype=torch.float64)
        self.counts = torch.zeros(len(self.names), dtype=torch.float64)

    def update(self, iou: torch.Tensor, category: torch.Tensor) -> None:
        iou = torch.as_tensor(iou).detach().to("cpu", torch.float64).flatten()
        cat = torch.as_tensor(category).detach().to("cpu", torch.long).flatten()
        self.sums.index_add_(0, cat, iou)
        self.counts.index_add_(0, cat, torch.ones_like(iou))

    def per_class(self) -> dict[str, float]:
        return {n: float(self.sums[i] / self.counts[i])
                for i, n in enumerate(self.names) if self.counts[i] > 0}

    def mean(self) -> float:
        pc = self.per_class()
        return float(sum(pc.values()) / len(pc)) if pc else float("nan")

    def as_dict(self, prefix: str = "iou") -> dict[str, float]:
        """``{f"{prefix}/mean": ..., f"{prefix}/{class}": ...}`` for loggers."""
        out = {f"{prefix}/mean": self.mean()}
        out.update({f"{prefix}/{k}": v for k, v in self.per_class().items()})
        return out

    def reset(self) -> None:
        self.sums.zero_()
        self.counts.zero_()

    def table(self, title: str = "IoU") -> str:
        """A markdown table: one row per class (IoU x 100, sample count), then the mean."""
        rows = [f"| class | {title} | samples |", "|---|---:|---:|"]
        for i, n in enumerate(self.names):
            if self.counts[i] > 0:
                rows.append(f"| {n} | {100 * float(self.sums[i] / self.counts[i]):.1f} | {int(self.counts[i])} |")
        rows.append(f"| **mean** | **{100 * self.mean():.1f}** | {int(self.counts.sum())} |")
        return "\n".join(rows)
