"""IoU per sample and its per-class / mean aggregation."""
from __future__ import annotations

import pytest
import torch

from recon.evaluation.iou import ClassIoU, mesh_iou, voxel_iou


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


def test_metric_class_mean_of_sample_means():
    metric = ClassIoU(["airplane", "bench", "chair"])
    metric.update(torch.tensor([0.2, 0.4, 0.9]), torch.tensor([0, 0, 2]))
    metric.update(torch.tensor([0.6]), torch.tensor([0]))
    summary = metric.compute()
    assert summary.per_class == pytest.approx({"airplane": 0.4, "chair": 0.9})
    assert summary.counts == {"airplane": 3, "chair": 1}
    assert summary.mean == pytest.approx(0.65)  # mean over classes, not over samples
    t = summary.table()
    assert "| airplane | 40.0 | 3 |" in t and "**65.0**" in t


def test_metric_refuses_bad_updates():
    metric = ClassIoU(["a", "b"])
    with pytest.raises(ValueError, match="out of range"):
        metric.update(torch.tensor([0.5]), torch.tensor([2]))
    with pytest.raises(ValueError, match="2 IoUs for 1 categories"):
        metric.update(torch.tensor([0.5, 0.1]), torch.tensor([0]))
    with pytest.raises(ValueError, match="at least one category"):
        ClassIoU([])


def test_metric_states_are_sums_so_any_split_into_processes_agrees():
    """What the all-reduce relies on: per-class sums and counts add, so states accumulated on
    disjoint parts of a split and summed give the single-process result."""
    g = torch.Generator().manual_seed(0)
    iou, cat = torch.rand(101, generator=g), torch.randint(0, 3, (101,), generator=g)
    whole, parts = ClassIoU(["a", "b", "c"]), [ClassIoU(["a", "b", "c"]) for _ in range(2)]
    whole.update(iou, cat)
    for rank, part in enumerate(parts):
        part.update(iou[rank::2], cat[rank::2])
    merged = ClassIoU(["a", "b", "c"])
    merged.sums = parts[0].sums + parts[1].sums
    merged.counts = parts[0].counts + parts[1].counts
    assert merged.compute().per_class == pytest.approx(whole.compute().per_class, rel=1e-15)


def test_mesh_iou_and_dict():
    import trimesh

    s = trimesh.creation.icosphere(subdivisions=3, radius=0.4)
    v = torch.tensor(s.vertices, dtype=torch.float32)
    f = torch.tensor(s.faces)
    from recon.evaluation.voxelize import voxelize

    gt = voxelize(v, f)
    iou = mesh_iou(torch.stack([v, v * 0.5]), f, gt.expand(2, -1, -1, -1))
    assert iou[0] == 1.0 and 0.05 < iou[1] < 0.3
    metric = ClassIoU(["a", "b"])
    metric.update(iou, torch.tensor([0, 1]))
    d = metric.compute().as_dict("val/iou")
    assert d["val/iou/a"] == 1.0 and d["val/iou/mean"] == pytest.approx((1.0 + float(iou[1])) / 2)
    metric.reset()
    assert metric.compute().per_class == {}
