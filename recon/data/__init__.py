"""Datasets: the ShapeNet renders (npz and per-object folder layouts), training and
evaluation sampling, the LightningDataModule, the synthetic generator and the
ShapeNetCore converter. Heavy modules are imported on use."""
from recon.data.cameras import NUM_VIEWS, view_eyes
from recon.data.categories import SHAPENET_CATEGORIES, SYNTHETIC_CATEGORIES, category_name
from recon.data.npz_array import DatasetFormatError
from recon.data.sampling import ClassBalancedPairSampler
from recon.data.shapenet import ShapeNetPairs, ShapeNetRenders, ShapeNetViews

__all__ = [
    "NUM_VIEWS", "view_eyes", "SHAPENET_CATEGORIES", "SYNTHETIC_CATEGORIES", "category_name",
    "DatasetFormatError", "ClassBalancedPairSampler", "ShapeNetPairs", "ShapeNetRenders",
    "ShapeNetViews",
]
