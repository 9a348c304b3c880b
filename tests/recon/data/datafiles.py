"""Small datasets in the exact ShapeNet-renders formats, written by the tests
(helpers imported by the test modules; the fixtures live in conftest.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def pattern_images(n: int, cat: int) -> np.ndarray:
    """``(n, 24, 4, 64, 64)`` uint8 whose pixels encode (category, object, view, channel)."""
    im = np.zeros((n, 24, 4, 64, 64), dtype=np.uint8)
    o = np.arange(n).reshape(n, 1)
    v = np.arange(24).reshape(1, 24)
    im[:, :, 0] = (v * 10)[..., None, None]
    im[:, :, 1] = (o * 20 + cat)[..., None, None] % 256
    im[:, :, 2] = 7
    im[:, :, 3, 16:48, 16:48] = 255
    im[:, :, 3, 15, 16:48] = 128  # an antialiased edge
    return im


def pattern_voxels(n: int) -> np.ndarray:
    vox = np.zeros((n, 32, 32, 32), dtype=bool)
    for o in range(n):
        vox[o, : o + 1, 0, 0] = True
    return vox


def write_npz_split(root: Path, synset: str, split: str, n: int, cat: int, compressed: bool = False) -> None:
    save = np.savez_compressed if compressed else np.savez
    root.mkdir(parents=True, exist_ok=True)
    save(root / f"{synset}_{split}_images.npz", pattern_images(n, cat))
    save(root / f"{synset}_{split}_voxels.npz", pattern_voxels(n))


def write_folder_split(root: Path, synset: str, split: str, n: int, cat: int) -> list[str]:
    ims, vox = pattern_images(n, cat), pattern_voxels(n)
    ids = [f"obj{cat}_{split}_{o:03d}" for o in range(n)]
    for o, oid in enumerate(ids):
        d = root / synset / oid
        (d / "image").mkdir(parents=True)
        (d / "mask").mkdir()
        for v in range(24):
            Image.fromarray(np.moveaxis(ims[o, v, :3], 0, 2)).save(d / "image" / f"{v:04d}.png")
            Image.fromarray(ims[o, v, 3]).save(d / "mask" / f"{v:04d}.png")
        np.savez(d / "voxels.npz", vox[o])
    (root / synset / f"softras_{split}.lst").write_text("\n".join(ids) + "\n")
    return ids


CATS = {"02691156": 3, "03001627": 5}  # synset -> objects per split
