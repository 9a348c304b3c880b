"""Decompressing compressed npz members into the cache: once, under a lock, with progress."""
from __future__ import annotations

import errno
import hashlib
import logging
import multiprocessing
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
from datafiles import pattern_images

import recon.data.npz_array as npz_array
from recon.atomic_io import DiskFullError
from recon.data.npz_array import NpzArray

SLOW_EXTRACT_S = 0.6  # long enough that, without the lock, both processes would be extracting at once


def _compressed(tmp_path: Path, n: int = 3) -> tuple[Path, np.ndarray]:
    data = pattern_images(n, 1)
    path = tmp_path / "02691156_train_images.npz"
    np.savez_compressed(path, data)
    return path, data


def _prepare_in_child(path: str, cache_dir: str, barrier, results) -> None:
    """Spawned child: both start extracting together; the extraction is slowed down."""
    original = NpzArray._extract

    def slow_extract(self, cache):
        time.sleep(SLOW_EXTRACT_S)
        original(self, cache)

    NpzArray._extract = slow_extract
    arr = NpzArray(path, cache_dir, what="images")
    barrier.wait(timeout=60)
    extracted = arr.prepare()
    results.put((extracted, hashlib.sha1(np.ascontiguousarray(arr.array).tobytes()).hexdigest()))


def test_two_processes_make_one_cache(tmp_path):
    path, data = _compressed(tmp_path)
    cache_dir = tmp_path / "cache"
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_prepare_in_child, args=(str(path), str(cache_dir), barrier, results))
             for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(extracted for extracted, _ in outcomes) == [False, True]  # one extracted, one reused
    expected = hashlib.sha1(data.tobytes()).hexdigest()
    assert [digest for _, digest in outcomes] == [expected, expected]
    names = sorted(p.name for p in cache_dir.iterdir())
    assert len([n for n in names if n.endswith(".npy")]) == 1
    assert not [n for n in names if n.endswith(".tmp")], names


def test_prepare_extracts_once_then_reuses(tmp_path):
    path, data = _compressed(tmp_path)
    arr = NpzArray(path, tmp_path / "cache")
    assert arr.compressed and not arr.cache_path.exists()
    assert arr.prepare() is True
    assert arr.cache_path.is_file()
    assert NpzArray(path, tmp_path / "cache").prepare() is False
    np.testing.assert_array_equal(NpzArray(path, tmp_path / "cache").array, data)


def test_stored_members_need_no_cache(tmp_path):
    path = tmp_path / "x_val_images.npz"
    np.savez(path, pattern_images(2, 0))
    arr = NpzArray(path, tmp_path / "cache")
    assert arr.cache_path is None and arr.prepare() is False
    assert not (tmp_path / "cache").exists()


def test_big_members_show_progress_and_log(tmp_path, monkeypatch, capsys, caplog):
    path, data = _compressed(tmp_path)
    monkeypatch.setattr(npz_array, "PROGRESS_MIN_BYTES", 0)
    with caplog.at_level(logging.INFO, logger="recon.data.npz_array"):
        NpzArray(path, tmp_path / "cache", what="images").prepare()
    err = capsys.readouterr().err
    assert f"decompressing {path.name}" in err and "100%" in err  # the tqdm bar, finished
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"decompressing the images of {path}" in m and f"({data.nbytes + 128} bytes)" in m
               for m in messages), messages
    assert any(m.startswith(f"decompressed {path.name}") for m in messages), messages


def test_small_members_extract_silently(tmp_path, capsys, caplog):
    path, _ = _compressed(tmp_path)
    with caplog.at_level(logging.INFO, logger="recon.data.npz_array"):
        NpzArray(path, tmp_path / "cache").prepare()
    assert capsys.readouterr().err == ""
    assert not caplog.records


def test_a_killed_extractors_temp_file_is_removed(tmp_path):
    path, data = _compressed(tmp_path)
    arr = NpzArray(path, tmp_path / "cache")
    arr.cache_path.parent.mkdir(parents=True)
    stale = arr.cache_path.with_name(f".{arr.cache_path.name}.dead1234.tmp")
    stale.write_bytes(b"half")
    arr.prepare()
    assert not stale.exists()
    np.testing.assert_array_equal(arr.array, data)


def test_too_little_disk_is_refused_before_decompressing(tmp_path, monkeypatch):
    path, _ = _compressed(tmp_path)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(npz_array.shutil, "disk_usage", lambda _: usage(10**6, 10**6 - 100, 100))
    with pytest.raises(DiskFullError, match=r"needs .* and 100 bytes are free.*data\.cache_dir"):
        NpzArray(path, tmp_path / "cache").prepare()
    assert not list((tmp_path / "cache").glob("*.npy"))


def test_without_file_locks_extraction_still_works(tmp_path, monkeypatch, caplog):
    path, data = _compressed(tmp_path)

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(npz_array.fcntl, "flock", no_locks)
    with caplog.at_level(logging.WARNING, logger="recon.data.npz_array"):
        arr = NpzArray(path, tmp_path / "cache")
        assert arr.prepare() is True
    assert "file locks are not supported" in caplog.text
    np.testing.assert_array_equal(arr.array, data)
