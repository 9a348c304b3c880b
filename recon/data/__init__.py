"""Datasets in the ShapeNet-renders format (Kato et al.; REFERENCE section 1).

* :mod:`~recon.data.render_layouts`: per-category readers of the two on-disk layouts (npz
  files, per-object PNG folders); :mod:`~recon.data.npz_array`: memory-mapped npz members.
* :mod:`~recon.data.render_datasets`: torch Datasets over one split (:class:`RenderSplit`,
  :class:`EvalViews`, :class:`TrainPairs`); :mod:`~recon.data.sampling`: training sampling;
  :mod:`~recon.data.datamodule`: the LightningDataModule (``RendersDataModule``).
* :mod:`~recon.data.rgb_convention`: the dataset's RGB encoding.
* Making data: :mod:`~recon.data.synthetic` (the synthetic set), :mod:`~recon.data.convert`
  (renders of ShapeNetCore models, read by :mod:`~recon.data.shapenetcore_models`).

The names below are imported on first use (``recon.data.RenderSplit``), so importing a
light submodule (``recon.data.npz_array``, ``recon.data.categories``) does not import torch."""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "NUM_VIEWS": "cameras", "view_eyes": "cameras",
    "SHAPENET_CATEGORIES": "categories", "SYNTHETIC_CATEGORIES": "categories", "SPLITS": "categories",
    "category_name": "categories",
    "DatasetFormatError": "npz_array",
    "ClassBalancedPairSampler": "sampling",
    "RenderSplit": "render_datasets", "EvalViews": "render_datasets", "TrainPairs": "render_datasets",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"recon.data.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
