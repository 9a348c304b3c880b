"""Undeformed-sphere baselines: what a reconstruction scores without looking at the image."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from recon.evaluation.iou import voxel_iou
from recon.evaluation.voxelize import voxelize
from recon.models.template import icosphere

__all__ = ["SPHERE_RADII", "sphere_voxels", "SphereBaselines"]

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
