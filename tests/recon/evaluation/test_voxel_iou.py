"""IoU per sample and its per-class / mean aggregation."""
from __future__ import annotations

import pytest
import torch

from recon.evaluation.iou import IoUAccumulator, mesh_iou, voxel_iou


def test_voxel_iou():
    a = torch.zeros(3, 32, 32, 32, dtype=torch.bool)
    b = torch.zeros_like(a)
    a[0, :8] = True
    b[0, :4] = True  # half
    a[1, :8] = True
    b[1, 8:16] = True  # disjoint
    iou = voxel_iou(a, b)
    assert iou.shape == (3,)
    torch.testing.assert_close(iou, torch.tensor([0.5, 0.0, 1.0]))
    with pytest.raises(ValueError):
        voxel_iou(a, b[:2])


def test_accumulator_class_mean_of_sample_means():
    acc = IoUAccumulator(["airplane", "bench", "chair"])
    acc.update(torch.tensor([0.2, 0.4, 0.9]), torch.tensor([0, 0, 2]))
    acc.update(torch.tensor([0.6]), torch.tensor([0]))
    pc = acc.per_class()
    assert pc == pytest.approx({"airplane": 0.4, "chair": 0.9})
    assert acc.mean() == pytest.approx(0.65)  # mean over classes, not over samples
    t = acc.table()
    assert "| airplane | 40.0 | 3 |" in t and "**65.0**" in t


def test_mesh_iou_and_dict():
    import trimesh

    s = trimesh.creation.icosphere(subdivisions=3, radius=0.4)
    v = torch.tensor(s.vertices, dtype=torch.float32)
    f = torch.tensor(s.faces)
    from recon.evaluation.voxelize import voxelize

    gt = voxelize(v, f)
    iou = mesh_iou(torch.stack([v, v * 0.5]), f, gt.expand(2, -1, -1, -1))
    assert iou[0] == 1.0 and 0.05 < iou[1] < 0.3
    acc = IoUAccumulator(["a", "b"])
    acc.update(iou, torch.tensor([0, 1]))
    d = acc.as_dict("val/iou")
    assert d["val/iou/a"] == 1.0 and d["val/iou/mean"] == pytest.approx((1.0 + float(iou[1])) / 2)
    acc.reset()
    assert acc.per_class() == {}
