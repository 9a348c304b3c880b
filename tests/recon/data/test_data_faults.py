"""Damaged data sets fail when they are opened, with an error naming the file and the problem.

Each case builds the bad file in ``tmp_path`` and asserts both the path and the exact
problem text; the DataModule cases check the error is raised in ``setup`` (the main
process), before any DataLoader worker exists.
"""
from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from datafiles import pattern_images, pattern_voxels, write_folder_split, write_npz_split
from PIL import Image

from recon.data.datamodule import RendersDataModule
from recon.data.npz_array import DatasetFormatError, NpzArray
from recon.data.render_datasets import EvalViews, RenderSplit
from recon.data.render_layouts import images_path, voxels_path

SYN, OTHER = "02691156", "03001627"
N = 2  # objects per split in these small sets


def raises_naming(exc_type: type[BaseException], path: Path, problem: str, call: Callable[[], object]) -> str:
    """Runs ``call``; asserts it raises ``exc_type`` whose message starts with ``path`` and
    contains ``problem`` (a literal). Returns the message."""
    with pytest.raises(exc_type) as info:
        call()
    msg = str(info.value)
    assert msg.startswith(f"{path}: "), msg
    assert problem in msg, msg
    return msg


def _npz_set(root: Path) -> Path:
    for c, syn in enumerate((SYN, OTHER)):
        write_npz_split(root, syn, "val", N, c)
    return root


def _member_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _zip_with(path: Path, name: str, payload: bytes) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(name, payload)


# -- npz layout: one damaged images file, opened through RenderSplit ----------------

DATA_OFFSET = 30 + len("arr_0.npy") + 20  # np.savez member: local header, name, zip64 extra


def _truncate(p: Path) -> str:
    data = p.read_bytes()
    keep = len(data) // 2
    p.write_bytes(data[:keep])
    return f"truncated zip member 'arr_0.npy' (expected {_member_size(data)} bytes, found {keep - DATA_OFFSET})"


def _member_size(data: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.infolist()[0].compress_size


NPZ_FAULTS: dict[str, Callable[[Path], str]] = {
    "truncated": _truncate,
    "empty": lambda p: (p.write_bytes(b""), "empty file (0 bytes)")[1],
    "garbage": lambda p: (p.write_bytes(b"this is not a zip file at all"),
                          "not a valid .npz (zip) file (starts with b'this is ';")[1],
    "bare-npy": lambda p: (p.write_bytes(_member_bytes(pattern_images(N, 0))),
                           "a bare .npy array, not an .npz (zip) archive")[1],
    "git-lfs-pointer": lambda p: (p.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n"),
                                  "a Git LFS pointer, not the data")[1],
    "html-page": lambda p: (p.write_text("<!DOCTYPE html><html><body>Quota exceeded</body></html>"),
                            "an HTML page, not data (a failed download?)")[1],
    "bad-npy-header": lambda p: (_zip_with(p, "arr_0.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': <>}   \n"),
                                 "the array inside is not a valid .npy member")[1],
    "no-array-member": lambda p: (_zip_with(p, "readme.txt", b"hello"), "the .npz archive contains no array")[1],
    "short-member": lambda p: (_zip_with(p, "arr_0.npy", _member_bytes(pattern_images(N, 0))[:-1000]),
                               "images member 'arr_0.npy' is truncated: header says shape (2, 24, 4, 64, 64) "
                               "uint8 (786432 bytes) but it holds 785432 bytes")[1],
    "float-images": lambda p: (np.savez(p, pattern_images(N, 0).astype(np.float32)),
                               "images must be (N, 24, 4, 64, 64) uint8, found (2, 24, 4, 64, 64) float32")[1],
    "three-channels": lambda p: (np.savez(p, pattern_images(N, 0)[:, :, :3]),
                                 "images must be (N, 24, 4, 64, 64) uint8, found (2, 24, 3, 64, 64) uint8")[1],
    "empty-split": lambda p: (np.savez(p, np.zeros((0, 24, 4, 64, 64), np.uint8)),
                              "holds 0 objects (an empty split)")[1],
}


def test_truncation_numbers_are_the_real_ones(tmp_path):
    """The expected/found byte counts are the member's size and what is left of it."""
    p = tmp_path / f"{SYN}_val_images.npz"
    np.savez(p, pattern_images(N, 0))
    size = p.stat().st_size
    expected = _member_size(p.read_bytes())
    p.write_bytes(p.read_bytes()[:1000])
    raises_naming(DatasetFormatError, p, f"truncated zip member 'arr_0.npy' (expected {expected} bytes, "
                  f"found {1000 - DATA_OFFSET}); the file is cut short", lambda: NpzArray(p))
    assert expected > size - 200  # the whole array, not the bytes left


@pytest.mark.parametrize("fault", sorted(NPZ_FAULTS))
def test_damaged_images_file(tmp_path, fault):
    root = _npz_set(tmp_path / "d")
    bad = images_path(root, SYN, "val")
    problem = NPZ_FAULTS[fault](bad)
    raises_naming(DatasetFormatError, bad, problem, lambda: RenderSplit(root, "val"))


VOXEL_FAULTS: dict[str, tuple[Callable[[], np.ndarray], str]] = {
    "uint8-voxels": (lambda: pattern_voxels(N).astype(np.uint8),
                     f"voxels must be ({N}, 32, 32, 32) bool to match the {N} objects of "
                     f"{SYN}_val_images.npz, found ({N}, 32, 32, 32) uint8"),
    "voxel-count": (lambda: pattern_voxels(N + 1),
                    f"voxels must be ({N}, 32, 32, 32) bool to match the {N} objects of "
                    f"{SYN}_val_images.npz, found ({N + 1}, 32, 32, 32) bool"),
    "voxel-resolution": (lambda: np.zeros((N, 64, 64, 64), bool), "found (2, 64, 64, 64) bool"),
}


@pytest.mark.parametrize("fault", sorted(VOXEL_FAULTS))
def test_malformed_voxels_file(tmp_path, fault):
    root = _npz_set(tmp_path / "d")
    make, problem = VOXEL_FAULTS[fault]
    np.savez(voxels_path(root, SYN, "val"), make())
    raises_naming(DatasetFormatError, voxels_path(root, SYN, "val"), problem, lambda: RenderSplit(root, "val"))


@pytest.mark.parametrize("cut", [200, 10])
def test_truncated_voxels_file(tmp_path, cut):
    """Cut into the array: the member is short by a known count; cut into the zip
    directory only (the last bytes): the archive cannot be indexed."""
    root = _npz_set(tmp_path / "d")
    p = voxels_path(root, OTHER, "val")
    data = p.read_bytes()
    p.write_bytes(data[:-cut])
    if cut == 200:
        member = _member_size(data)
        found = len(data) - cut - DATA_OFFSET
        problem = f"truncated zip member 'arr_0.npy' (expected {member} bytes, found {found})"
    else:
        problem = f"truncated or corrupt .npz: its zip directory is missing or damaged ({len(data) - cut} bytes;"
    raises_naming(DatasetFormatError, p, problem, lambda: RenderSplit(root, "val"))


def test_missing_category_names_the_expected_file(tmp_path):
    root = _npz_set(tmp_path / "d")
    raises_naming(FileNotFoundError, images_path(root, "04379243", "val"),
                  f"missing images file: category 04379243 (table) has no 'val' data in {root} "
                  f"(present: {SYN}, {OTHER})",
                  lambda: RenderSplit(root, "val", categories=[SYN, "04379243"]))


def test_category_missing_from_one_split_fails_in_setup(tmp_path):
    root = _npz_set(tmp_path / "d")
    for c, syn in enumerate((SYN, OTHER)):
        write_npz_split(root, syn, "train", N, c)
    images_path(root, OTHER, "val").unlink()
    voxels_path(root, OTHER, "val").unlink()
    dm = RendersDataModule(root, batch_size=2)
    raises_naming(FileNotFoundError, images_path(root, OTHER, "val"),
                  "missing images file: category 03001627 (chair) has no 'val' data", lambda: dm.setup("fit"))


def test_missing_split(tmp_path):
    root = _npz_set(tmp_path / "d")
    raises_naming(FileNotFoundError, root, "no npz data for split 'train'", lambda: RenderSplit(root, "train"))


def test_datamodule_setup_raises_before_any_worker(tmp_path):
    """A truncated file fails in ``setup`` (main process), not in a DataLoader worker."""
    root = _npz_set(tmp_path / "d")
    for c, syn in enumerate((SYN, OTHER)):
        write_npz_split(root, syn, "train", N, c)
    bad = images_path(root, OTHER, "train")
    bad.write_bytes(bad.read_bytes()[:5000])
    dm = RendersDataModule(root, batch_size=2, num_workers=2)
    raises_naming(DatasetFormatError, bad, "truncated zip member 'arr_0.npy'", lambda: dm.setup("fit"))


def test_flipped_bytes_found_by_verify(tmp_path):
    """Opening checks structure and sizes only; ``verify_files`` reads every byte (CRC-32)."""
    root = _npz_set(tmp_path / "d")
    for c, syn in enumerate((SYN, OTHER)):
        write_npz_split(root, syn, "train", N, c)
    bad = images_path(root, SYN, "val")
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    RenderSplit(root, "val")  # the damage is inside the pixels: opening cannot see it
    raises_naming(DatasetFormatError, bad, "corrupt images member 'arr_0.npy' (Bad CRC-32",
                  lambda: RenderSplit(root, "val").verify())
    dm = RendersDataModule(root, batch_size=2, verify_files=True)
    raises_naming(DatasetFormatError, bad, "Bad CRC-32", lambda: dm.setup("fit"))


def test_corrupt_compressed_member_fails_in_setup(tmp_path):
    root = tmp_path / "d"
    for split in ("train", "val"):
        write_npz_split(root, SYN, split, N, 0, compressed=True)
    bad = images_path(root, SYN, "val")
    data = bytearray(bad.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 32):
        data[i] ^= 0x55
    bad.write_bytes(bytes(data))
    dm = RendersDataModule(root, batch_size=2, cache_dir=tmp_path / "cache")
    raises_naming(DatasetFormatError, bad, "corrupt compressed images member", lambda: dm.setup("fit"))


# -- per-object folder layout -------------------------------------------------------------

@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "f"
    ids = write_folder_split(root, SYN, "val", N, 0)
    return root, ids


def _rgb_only(obj: Path) -> None:
    """Object ``obj`` with RGB views and no ``mask/`` folder: no silhouette anywhere."""
    shutil.rmtree(obj / "mask")
    for v in range(24):
        Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(obj / "image" / f"{v:04d}.png")


FOLDER_FAULTS: dict[str, Callable[[Path, Path], tuple[type[BaseException], Path, str]]] = {
    "missing-views": lambda root, obj: (
        [(obj / "image" / f"{v:04d}.png").unlink() for v in (5, 6)],
        (DatasetFormatError, obj / "image", "missing views 0005.png, 0006.png (every object needs "
                                            "0000.png..0023.png)"))[1],
    "missing-mask-view": lambda root, obj: (
        (obj / "mask" / "0023.png").unlink(),
        (DatasetFormatError, obj / "mask", "missing view 0023.png"))[1],
    "missing-object-folder": lambda root, obj: (
        shutil.rmtree(obj),
        (FileNotFoundError, obj / "image", "missing image folder (listed in softras_val.lst)"))[1],
    "empty-split-list": lambda root, obj: (
        (root / SYN / "softras_val.lst").write_text("\n"),
        (DatasetFormatError, root / SYN / "softras_val.lst", "lists no objects (an empty split)"))[1],
    "missing-voxels": lambda root, obj: (
        (obj / "voxels.npz").unlink(),
        (FileNotFoundError, obj / "voxels.npz", "missing voxels file"))[1],
    "wrong-voxels": lambda root, obj: (
        np.savez(obj / "voxels.npz", np.zeros((16, 16, 16), np.uint8)),
        (DatasetFormatError, obj / "voxels.npz", "voxels must be (32, 32, 32) bool, found (16, 16, 16) uint8"))[1],
    "truncated-voxels": lambda root, obj: (
        (obj / "voxels.npz").write_bytes((obj / "voxels.npz").read_bytes()[:2000]),
        (DatasetFormatError, obj / "voxels.npz", "truncated zip member 'arr_0.npy' (expected 32896 bytes, found"))[1],
    "rgb-without-mask": lambda root, obj: (
        _rgb_only(obj),
        (DatasetFormatError, obj / "image" / "0000.png", "RGB image without alpha and no mask/ folder"))[1],
}


@pytest.mark.parametrize("fault", sorted(FOLDER_FAULTS))
def test_damaged_folder_layout(folders, fault):
    root, ids = folders
    exc_type, path, problem = FOLDER_FAULTS[fault](root, root / SYN / ids[1])
    raises_naming(exc_type, path, problem, lambda: RenderSplit(root, "val", layout="folders"))


def test_missing_category_folder(folders):
    root, _ = folders
    raises_naming(FileNotFoundError, root / OTHER / "softras_val.lst",
                  f"missing split list: category {OTHER} (chair) has no 'val' data in {root} (present: {SYN})",
                  lambda: RenderSplit(root, "val", categories=[OTHER], layout="folders"))


PNG_FAULTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated-png": (lambda p: p.write_bytes(p.read_bytes()[:p.stat().st_size // 2]),
                      "unreadable PNG (image file is truncated"),
    "garbage-png": (lambda p: p.write_bytes(b"not a png"), "unreadable PNG (cannot identify image file"),
    "small-png": (lambda p: Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(p),
                  "image is (32, 32), expected 64x64"),
}


@pytest.mark.parametrize("fault", sorted(PNG_FAULTS))
def test_damaged_png(folders, fault):
    """Pixels are decoded on read (the error names the PNG) or all at once by ``verify``."""
    root, ids = folders
    damage, problem = PNG_FAULTS[fault]
    png = root / SYN / ids[1] / "image" / "0007.png"
    damage(png)
    renders = RenderSplit(root, "val", layout="folders")
    raises_naming(DatasetFormatError, png, problem, renders.verify)
    raises_naming(DatasetFormatError, png, problem, lambda: EvalViews(renders)[24 + 7])
