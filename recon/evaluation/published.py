"""Published 3D IoU (x100) on the Kato et al. ShapeNet renders (REFERENCE section 2).

Only values verified against a public source are listed: NMR's airplane class and means,
SoftRas's means. Other per-class numbers that circulate are not printed.
"""
from __future__ import annotations

__all__ = ["PUBLISHED", "published_columns"]

#: column name -> (split the authors evaluate on, {synset or "mean": IoU x 100}).
PUBLISHED: dict[str, tuple[str, dict[str, float]]] = {
    "NMR (paper)": ("test", {"02691156": 61.7, "mean": 60.2}),
    "NMR (released model)": ("test", {"mean": 59.9}),
    "SoftRas silhouette": ("val", {"mean": 62.0}),
    "SoftRas full (own renders)": ("val", {"mean": 64.6}),
}


def published_columns(split: str) -> dict[str, dict[str, float]]:
    """The published columns that apply to ``split`` (``val``: SoftRas, ``test``: NMR)."""
    return {name: values for name, (their_split, values) in PUBLISHED.items() if their_split == split}
