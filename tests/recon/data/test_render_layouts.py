"""The per-object folder layout (image/, mask/, softras_{split}.lst) reads the same data."""
from __future__ import annotations

import pytest
import torch
from datafiles import CATS

from recon.data.npz_array import DatasetFormatError
from recon.data.render_datasets import EvalViews, RenderSplit, TrainPairs


def test_folders_match_npz(npz_root, folder_root):
    a = EvalViews(RenderSplit(npz_root, "test"))
    b = EvalViews(RenderSplit(folder_root, "test", layout="folders"))
    assert len(a) == len(b) == sum(CATS.values()) * 24
    for i in (0, 25, 77, len(a) - 1):
        x, y = a[i], b[i]
        assert x.keys() == y.keys()
        for k in x:
            assert torch.equal(x[k], y[k]), k


def test_folder_pairs(folder_root, npz_root):
    a = TrainPairs(RenderSplit(npz_root, "train", need_voxels=False))
    b = TrainPairs(RenderSplit(folder_root, "train", layout="folders", need_voxels=False))
    for k in a[(1, 4, 0, 9)]:
        assert torch.equal(a[(1, 4, 0, 9)][k], b[(1, 4, 0, 9)][k])


def test_folder_errors_name_the_file(folder_root):
    obj = (folder_root / "02691156" / "softras_val.lst").read_text().split()[1]
    png = folder_root / "02691156" / obj / "image" / "0005.png"
    png.write_bytes(b"garbage")
    ds = EvalViews(RenderSplit(folder_root, "val", layout="folders"))
    with pytest.raises(DatasetFormatError, match="0005.png: unreadable PNG"):
        ds[24 + 5]
    (folder_root / "02691156" / obj / "mask" / "0006.png").unlink()
    with pytest.raises(FileNotFoundError, match="0006.png: missing image"):
        ds[24 + 6]
    (folder_root / "03001627" / "softras_val.lst").unlink()
    with pytest.raises(FileNotFoundError, match="softras_val.lst: missing split list"):
        RenderSplit(folder_root, "val", categories=["03001627"], layout="folders")
