"""Per-category, per-split readers of renders in the ShapeNet-renders format, in both
on-disk layouts (the real ShapeNet renders, the synthetic set and converted sets alike),
and the layouts' file names (:func:`images_path`, :func:`voxels_path`, split lists).

A *source* holds the objects of one category in one split and reads them lazily:

* :class:`NpzSource`: Kato et al.'s ``{synset}_{split}_images.npz`` ``(N, 24, 4, 64, 64)``
  uint8 and ``{synset}_{split}_voxels.npz`` ``(N, 32, 32, 32)`` bool, memory-mapped
  (see :mod:`recon.data.npz_array`).
* :class:`FolderSource`: per-object folders ``{synset}/{object}/image/0000.png..0023.png``
  and ``mask/0000.png..``, object ids listed in ``{synset}/softras_{split}.lst``
  (the DVR / SDF-SRN layout). Voxels, when present, are ``{object}/voxels.npz``
  (one ``(32, 32, 32)`` bool array; our convention, written by our tools). Cameras come
  from the protocol (view ``k`` -> :func:`recon.data.cameras.eye_of_view`);
  ``cameras.npz`` is not needed.

Both return images as ``(len(views), 4, 64, 64)`` uint8 (RGBA, channel-first) and
voxels as ``(32, 32, 32)`` bool in the ground-truth axis order.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from recon.data.cameras import IMAGE_SIZE, NUM_VIEWS
from recon.data.npz_array import DatasetFormatError, NpzArray

VOXEL_SIZE = 32


def images_path(root: str | os.PathLike, synset: str, split: str) -> Path:
    return Path(root) / f"{synset}_{split}_images.npz"


def voxels_path(root: str | os.PathLike, synset: str, split: str) -> Path:
    return Path(root) / f"{synset}_{split}_voxels.npz"


class NpzSource:
    """One category and split of the npz layout, memory-mapped lazily.

    ``need_voxels=False`` (training) does not require the voxels file.
    """

    def __init__(self, root: str | os.PathLike, synset: str, split: str,
                 need_voxels: bool = True, cache_dir: str | os.PathLike | None = None) -> None:
        self.synset, self.split = synset, split
        self._images = NpzArray(images_path(root, synset, split), cache_dir, what="images")
        shape = tuple(self._images.shape)
        if (len(shape) != 5 or shape[1:] != (NUM_VIEWS, 4, IMAGE_SIZE, IMAGE_SIZE)
                or self._images.dtype != np.uint8):
            raise DatasetFormatError(
                f"{self._images.path}: images must be (N, 24, 4, 64, 64) uint8, "
                f"found {shape} {self._images.dtype}")
        if shape[0] == 0:
            raise DatasetFormatError(f"{self._images.path}: holds 0 objects (an empty split)")
        self._voxels: NpzArray | None = None
        if need_voxels:
            self._voxels = NpzArray(voxels_path(root, synset, split), cache_dir, what="voxels")
            vshape = tuple(self._voxels.shape)
            if vshape != (shape[0], VOXEL_SIZE, VOXEL_SIZE, VOXEL_SIZE) or self._voxels.dtype != np.bool_:
                raise DatasetFormatError(
                    f"{self._voxels.path}: voxels must be ({shape[0]}, 32, 32, 32) bool to match "
                    f"the {shape[0]} objects of {self._images.path.name}, found {vshape} "
                    f"{self._voxels.dtype}")
        self.num_objects = shape[0]
        self.has_voxels = need_voxels

    def __len__(self) -> int:
        return self.num_objects

    def prepare(self) -> int:
        """One-time preparation: decompress compressed members into the cache (a no-op for
        stored members and finished caches). Returns the number of files decompressed."""
        arrays = [self._images] + ([self._voxels] if self._voxels is not None else [])
        return sum(a.prepare() for a in arrays)

    def verify(self) -> None:
        """Full check: read every byte and compare the zip CRC-32s (slow on big splits)."""
        self._images.verify()
        if self._voxels is not None:
            self._voxels.verify()

    def images(self, obj: int, views: Sequence[int]) -> np.ndarray:
        """``(len(views), 4, 64, 64)`` uint8 RGBA of object ``obj``."""
        return np.array(self._images.array[obj, list(views)])

    def voxels(self, obj: int) -> np.ndarray:
        """``(32, 32, 32)`` bool ground-truth voxels of object ``obj``."""
        if self._voxels is None:
            raise RuntimeError(f"{self.synset}/{self.split}: opened without voxels")
        return np.array(self._voxels.array[obj])


def read_split_list(path: Path) -> list[str]:
    """Object ids of a ``.lst`` file (one per line, blank lines ignored)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing split list")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


VIEW_FILES = tuple(f"{v:04d}.png" for v in range(NUM_VIEWS))


def missing_views(folder: Path) -> list[str]:
    """The names of ``0000.png..0023.png`` absent from ``folder`` (one directory listing)."""
    present = set(os.listdir(folder))
    return [name for name in VIEW_FILES if name not in present]


def _views_error(folder: Path, missing: list[str]) -> DatasetFormatError:
    shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    return DatasetFormatError(f"{folder}: missing view{'s' if len(missing) > 1 else ''} {shown} "
                              f"(every object needs 0000.png..{NUM_VIEWS - 1:04d}.png)")


class FolderSource:
    """One category and split of the per-object folder layout, read per view from PNG.

    Opening checks the layout of every listed object (one directory listing each): the
    ``image/`` folder holds all 24 views, ``mask/`` (when present) too, an object without
    ``mask/`` has an alpha channel in ``image/0000.png``, and with ``need_voxels`` its
    ``voxels.npz`` is a ``(32, 32, 32)`` bool array. PNG pixels are decoded on read
    (``verify()`` decodes them all up front).
    """

    def __init__(self, root: str | os.PathLike, synset: str, split: str,
                 need_voxels: bool = True) -> None:
        self.synset, self.split = synset, split
        self.dir = Path(root) / synset
        split_list = self.dir / f"softras_{split}.lst"
        self.objects = read_split_list(split_list)
        if not self.objects:
            raise DatasetFormatError(f"{split_list}: lists no objects (an empty split)")
        self.has_voxels = need_voxels
        for obj in self.objects:  # fail early, naming the first broken object
            self._check_object(self.dir / obj, split_list.name)
        self.num_objects = len(self.objects)

    def _check_object(self, base: Path, listed_in: str) -> None:
        """Raises naming the folder or file when object ``base`` is incomplete."""
        image_dir, mask_dir = base / "image", base / "mask"
        if not image_dir.is_dir():
            raise FileNotFoundError(f"{image_dir}: missing image folder (listed in {listed_in})")
        for folder in (image_dir, mask_dir) if mask_dir.is_dir() else (image_dir,):
            missing = missing_views(folder)
            if missing:
                raise _views_error(folder, missing)
        if not mask_dir.is_dir():
            first = image_dir / VIEW_FILES[0]
            try:
                with Image.open(first) as im:
                    mode = im.mode
            except OSError as exc:
                raise DatasetFormatError(f"{first}: unreadable PNG ({exc})") from exc
            if mode not in ("RGBA", "LA"):
                raise DatasetFormatError(f"{first}: {mode} image without alpha and no {mask_dir.name}/ "
                                         f"folder: the silhouette is missing")
        if self.has_voxels:
            self._voxel_array(base / "voxels.npz")

    @staticmethod
    def _voxel_array(path: Path) -> NpzArray:
        arr = NpzArray(path, what="voxels")
        if tuple(arr.shape) != (VOXEL_SIZE,) * 3 or arr.dtype != np.bool_:
            raise DatasetFormatError(f"{path}: voxels must be (32, 32, 32) bool, found "
                                     f"{tuple(arr.shape)} {arr.dtype}")
        return arr

    def __len__(self) -> int:
        return self.num_objects

    def prepare(self) -> int:
        """Nothing to prepare: PNGs are read in place. Returns 0 (files decompressed)."""
        return 0

    def verify(self) -> None:
        """Full check: decode every PNG (and CRC-check every voxel file)."""
        for i, obj in enumerate(self.objects):
            self.images(i, range(NUM_VIEWS))
            if self.has_voxels:
                self._voxel_array(self.dir / obj / "voxels.npz").verify()

    def _png(self, path: Path) -> np.ndarray:
        try:
            with Image.open(path) as im:
                arr = np.asarray(im)
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: missing image") from None
        except OSError as exc:
            raise DatasetFormatError(f"{path}: unreadable PNG ({exc})") from exc
        if arr.shape[:2] != (IMAGE_SIZE, IMAGE_SIZE):
            raise DatasetFormatError(f"{path}: image is {arr.shape[:2]}, expected 64x64")
        return arr

    def images(self, obj: int, views: Sequence[int]) -> np.ndarray:
        """``(len(views), 4, 64, 64)`` uint8: RGB from ``image/``, alpha from ``mask/``
        (or from the image's own alpha when it is RGBA and no mask exists)."""
        out = np.empty((len(views), 4, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
        base = self.dir / self.objects[obj]
        for i, v in enumerate(views):
            rgb = self._png(base / "image" / f"{v:04d}.png")
            mask_path = base / "mask" / f"{v:04d}.png"
            if rgb.ndim == 2:
                rgb = np.repeat(rgb[..., None], 3, axis=2)
            if mask_path.is_file() or rgb.shape[2] != 4:
                mask = self._png(mask_path)
                if mask.ndim == 3:
                    mask = mask[..., -1] if mask.shape[2] in (2, 4) else mask[..., 0]
            else:
                mask = rgb[..., 3]
            if mask.dtype != np.uint8:  # 16-bit masks
                mask = (mask.astype(np.float64) * 255.0 / np.iinfo(mask.dtype).max).round().astype(np.uint8)
            out[i, :3] = np.moveaxis(rgb[..., :3], 2, 0)
            out[i, 3] = mask
        return out

    def voxels(self, obj: int) -> np.ndarray:
        """``(32, 32, 32)`` bool ground-truth voxels of object ``obj``."""
        return np.array(self._voxel_array(self.dir / self.objects[obj] / "voxels.npz").array)


def open_source(root: str | os.PathLike, synset: str, split: str, layout: str = "npz",
                need_voxels: bool = True, cache_dir: str | os.PathLike | None = None):
    """Open one category/split in ``layout`` ``"npz"`` or ``"folders"``."""
    if layout == "npz":
        return NpzSource(root, synset, split, need_voxels=need_voxels, cache_dir=cache_dir)
    if layout == "folders":
        return FolderSource(root, synset, split, need_voxels=need_voxels)
    raise ValueError(f"unknown dataset layout {layout!r}; use 'npz' or 'folders'")


def split_marker(root: str | os.PathLike, synset: str, split: str, layout: str) -> tuple[Path, str]:
    """The file whose presence makes ``synset`` part of ``split`` in ``layout``, and its role."""
    if layout == "folders":
        return Path(root) / synset / f"softras_{split}.lst", "split list"
    return images_path(root, synset, split), "images file"


def check_categories(root: str | os.PathLike, split: str, layout: str,
                     categories: Sequence[str]) -> None:
    """Raises ``FileNotFoundError`` naming the expected file of every requested category
    that has no ``split`` data in ``root`` (and listing the categories that do)."""
    from recon.data.categories import category_name  # noqa: PLC0415

    present = discover_categories(root, split, layout)
    missing = [c for c in categories if c not in present]
    if missing:
        path, role = split_marker(root, missing[0], split, layout)
        names = ", ".join(f"{c} ({category_name(c)})" for c in missing)
        raise FileNotFoundError(f"{path}: missing {role}: categor{'y' if len(missing) == 1 else 'ies'} "
                                f"{names} {'has' if len(missing) == 1 else 'have'} no {split!r} data "
                                f"in {root} (present: {', '.join(present)})")


def discover_categories(root: str | os.PathLike, split: str, layout: str = "npz") -> list[str]:
    """Sorted synsets present in ``root`` for ``split``."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: dataset folder does not exist (put the ShapeNet renders there as datasets/README.md describes, point data.root at them, or train on data=synthetic)")
    if layout == "npz":
        suffix = f"_{split}_images.npz"
        found = [p.name[: -len(suffix)] for p in root.glob(f"*{suffix}")]
    elif layout == "folders":
        found = [p.parent.name for p in root.glob(f"*/softras_{split}.lst")]
    else:
        raise ValueError(f"unknown dataset layout {layout!r}; use 'npz' or 'folders'")
    if not found:
        raise FileNotFoundError(f"{root}: no {layout} data for split {split!r}")
    return sorted(found)
