"""Fixtures: the same small dataset in the npz and in the per-object folder layout."""
from __future__ import annotations

from pathlib import Path

import pytest
from datafiles import CATS, write_folder_split, write_npz_split


@pytest.fixture
def npz_root(tmp_path: Path) -> Path:
    root = tmp_path / "npz"
    for c, (syn, n) in enumerate(CATS.items()):
        for split in ("train", "val", "test"):
            write_npz_split(root, syn, split, n, c)
    return root


@pytest.fixture
def folder_root(tmp_path: Path) -> Path:
    root = tmp_path / "folders"
    for c, (syn, n) in enumerate(CATS.items()):
        for split in ("train", "val", "test"):
            write_folder_split(root, syn, split, n, c)
    return root
