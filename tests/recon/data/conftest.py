"""Fixtures: the same small dataset in the npz and in the per-object folder layout."""
from __future__ import annotations

from pathlib import Path

import pytest
from datafiles import CATS, write_folder_split, write_npz_split

from recon.data.categories import SPLITS


def _write_all_splits(root: Path, write_split) -> Path:
    for c, (syn, n) in enumerate(CATS.items()):
        for split in SPLITS:
            write_split(root, syn, split, n, c)
    return root


@pytest.fixture
def npz_root(tmp_path: Path) -> Path:
    return _write_all_splits(tmp_path / "npz", write_npz_split)


@pytest.fixture
def folder_root(tmp_path: Path) -> Path:
    return _write_all_splits(tmp_path / "folders", write_folder_split)
