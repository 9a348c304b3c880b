"""Category ids: the 13 ShapeNet synsets of the benchmark and the synthetic ones.

Real ShapeNet synsets are WordNet noun offsets (8 digits, always below 20,000,000).
The synthetic categories use ids starting with ``9000`` so that they can never be
mistaken for a real synset, while still fitting the ``{synset}_{split}_*.npz`` names.
"""
from __future__ import annotations

SHAPENET_CATEGORIES: dict[str, str] = {
    "02691156": "airplane",
    "02828884": "bench",
    "02933112": "cabinet",
    "02958343": "car",
    "03001627": "chair",
    "03211117": "display",
    "03636649": "lamp",
    "03691459": "loudspeaker",
    "04090263": "rifle",
    "04256520": "sofa",
    "04379243": "table",
    "04401088": "telephone",
    "04530566": "watercraft",
}

SYNTHETIC_CATEGORIES: dict[str, str] = {
    "90000001": "synth-chair",
    "90000002": "synth-table",
    "90000003": "synth-airplane",
    "90000004": "synth-car",
    "90000005": "synth-lamp",
    "90000006": "synth-bench",
}

ALL_CATEGORIES: dict[str, str] = {**SHAPENET_CATEGORIES, **SYNTHETIC_CATEGORIES}

SPLITS = ("train", "val", "test")


def category_name(synset: str) -> str:
    """Human-readable name of a synset id (the id itself when unknown)."""
    return ALL_CATEGORIES.get(synset, synset)
