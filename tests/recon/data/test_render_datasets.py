"""The ShapeNet-renders loader on small files in the exact format."""
from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
from datafiles import CATS, pattern_images, pattern_voxels, write_npz_split

from recon.data.cameras import view_eyes
from recon.data.npz_array import DatasetFormatError, NpzArray
from recon.data.render_datasets import EvalViews, RenderSplit, TrainPairs


def expected_eye(k: int) -> torch.Tensor:
    e, a = math.radians(30), math.radians(-15 * k)
    d = 2.732
    return torch.tensor([d * math.cos(e) * math.sin(a), d * math.sin(e), -d * math.cos(e) * math.cos(a)])


def test_view_eyes_follow_the_protocol():
    eyes = view_eyes()
    assert eyes.shape == (24, 3) and eyes.dtype == torch.float32
    for k in range(24):
        torch.testing.assert_close(eyes[k], expected_eye(k), atol=1e-5, rtol=0)


@pytest.mark.parametrize("compressed", [False, True])
def test_views_dataset_shapes_values_and_index(tmp_path, compressed):
    root = tmp_path / "d"
    for c, (syn, n) in enumerate(CATS.items()):
        write_npz_split(root, syn, "val", n, c, compressed=compressed)
    renders = RenderSplit(root, "val", cache_dir=tmp_path / "cache")
    assert renders.categories == sorted(CATS)
    ds = EvalViews(renders)
    assert len(ds) == sum(CATS.values()) * 24
    ref = [pattern_images(n, c).reshape(n * 24, 4, 64, 64) for c, n in enumerate(CATS.values())]
    n0 = list(CATS.values())[0]
    for i in (0, 1, 23, 24, 47, n0 * 24 + 5, len(ds) - 1):
        item = ds[i]
        obj, view = divmod(i, 24)
        c = 0 if obj < n0 else 1
        local = obj - (0 if c == 0 else n0)
        assert item["images"].shape == (4, 64, 64) and item["images"].dtype == torch.float32
        assert 0.0 <= item["images"].min() and item["images"].max() <= 1.0
        # index object*24 + view inside the category's reshaped (N*24, 4, 64, 64) array
        np.testing.assert_allclose(item["images"].numpy(), ref[c][local * 24 + view] / 255.0, atol=1e-7)
        assert item["view"].item() == view and item["object_index"].item() == obj
        assert item["category"].item() == c and item["category"].dtype == torch.long
        torch.testing.assert_close(item["eye"], expected_eye(view), atol=1e-5, rtol=0)
        assert item["voxels"].dtype == torch.bool and item["voxels"].shape == (32, 32, 32)
        assert torch.equal(item["voxels"], torch.from_numpy(pattern_voxels(n0 if c == 0 else 5)[local]))
    if compressed:
        assert len(list((tmp_path / "cache").glob("*.npy"))) == 4  # decompressed once, mapped


def test_pairs_dataset(npz_root):
    renders = RenderSplit(npz_root, "train", need_voxels=False)
    ds = TrainPairs(renders)
    item = ds[(1, 2, 3, 17)]
    ref = pattern_images(5, 1)
    np.testing.assert_allclose(item["images_a"].numpy(), ref[2, 3] / 255.0)
    np.testing.assert_allclose(item["images_b"].numpy(), ref[2, 17] / 255.0)
    torch.testing.assert_close(item["eye_a"], expected_eye(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(item["eye_b"], expected_eye(17), atol=1e-5, rtol=0)
    assert item["object_index"].item() == 3 + 2 and item["category"].item() == 1
    assert item["view_a"].item() == 3 and item["view_b"].item() == 17


def test_dataset_pickles_without_data(npz_root):
    ds = EvalViews(RenderSplit(npz_root, "val"))
    _ = ds[0]  # maps the files in this process
    blob = pickle.dumps(ds)
    assert len(blob) < 20_000  # paths and shapes only, never the mapped arrays
    ds2 = pickle.loads(blob)
    assert torch.equal(ds2[30]["images"], ds[30]["images"])


def test_missing_file_is_named(npz_root):
    (npz_root / "03001627_val_voxels.npz").unlink()
    with pytest.raises(FileNotFoundError, match="03001627_val_voxels.npz: missing voxels"):
        RenderSplit(npz_root, "val")
    RenderSplit(npz_root, "val", categories=["02691156"])  # the other category is fine


def test_corrupt_file_is_named(npz_root):
    (npz_root / "02691156_val_images.npz").write_bytes(b"this is not a zip file at all")
    with pytest.raises(DatasetFormatError, match="02691156_val_images.npz: not a valid .npz"):
        RenderSplit(npz_root, "val")


def test_truncated_file_is_named(npz_root):
    p = npz_root / "02691156_val_images.npz"
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetFormatError, match="02691156_val_images.npz"):
        RenderSplit(npz_root, "val").prepare()


def test_wrong_shape_is_named(npz_root):
    np.savez(npz_root / "02691156_val_images.npz", np.zeros((3, 24, 3, 64, 64), np.uint8))
    with pytest.raises(DatasetFormatError, match=r"02691156_val_images.npz: images must be \(N, 24, 4, 64, 64\)"):
        RenderSplit(npz_root, "val")
    np.savez(npz_root / "03001627_val_voxels.npz", np.zeros((4, 32, 32, 32), bool))
    with pytest.raises(DatasetFormatError, match="03001627_val_voxels.npz: voxels must be"):
        RenderSplit(npz_root, "val", categories=["03001627"])


def test_first_array_whatever_its_key(tmp_path):
    np.savez(tmp_path / "x.npz", images=np.arange(6, dtype=np.int16).reshape(2, 3))
    a = NpzArray(tmp_path / "x.npz")
    assert a.array.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_no_split_present(tmp_path):
    tmp_path.joinpath("empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no npz data for split 'train'"):
        RenderSplit(tmp_path / "empty", "train")


def test_corrupt_compressed_member_is_named(tmp_path):
    rng = np.random.default_rng(0)
    np.savez_compressed(tmp_path / "02691156_val_images.npz",
                        (rng.random((4, 24, 4, 64, 64)) * 40).astype(np.uint8))
    data = bytearray((tmp_path / "02691156_val_images.npz").read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0xFF
    (tmp_path / "02691156_val_images.npz").write_bytes(bytes(data))
    with pytest.raises(DatasetFormatError, match="02691156_val_images.npz: corrupt compressed images"):
        NpzArray(tmp_path / "02691156_val_images.npz", cache_dir=tmp_path / "cache", what="images").prepare()
    left = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert all(name.endswith(".npy.lock") for name in left), left  # no half-written cache left behind
