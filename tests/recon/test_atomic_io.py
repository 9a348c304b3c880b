"""Atomic, durable writes (recon/atomic_io.py) and what every writer of the framework uses."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from recon.atomic_io import DiskFullError, open_atomic, write_bytes_atomic, write_text_atomic

ROOT = Path(__file__).resolve().parents[2]


def test_writes_replace_the_file_and_fsync_file_and_folder(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.fstat(fd).st_mode), real_fsync(fd))[1])
    path = write_text_atomic(tmp_path / "sub" / "a.txt", "one")
    assert path.read_text() == "one" and oct(path.stat().st_mode & 0o777) == "0o644"
    import stat

    assert any(stat.S_ISREG(m) for m in synced) and any(stat.S_ISDIR(m) for m in synced)
    write_bytes_atomic(path, b"two")
    assert path.read_bytes() == b"two" and os.listdir(path.parent) == ["a.txt"]


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    path = write_text_atomic(tmp_path / "a.txt", "previous")
    with pytest.raises(RuntimeError, match="boom"):
        with open_atomic(path) as handle:
            handle.write(b"half of the new")
            raise RuntimeError("boom")
    assert path.read_text() == "previous" and os.listdir(tmp_path) == ["a.txt"]


# A child with a 64 KiB file-size limit and SIGXFSZ ignored: writing past it raises EFBIG, as a
# full disk raises ENOSPC. It first writes a small "previous" file, then tries a large one.
_FULL_DISK_CHILD = r"""
import json, os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
import torch
from recon.atomic_io import write_bytes_atomic
from recon.checkpoint_io import AtomicCheckpointIO
folder = sys.argv[1]
limit = 64 * 1024
io = AtomicCheckpointIO()
write_bytes_atomic(os.path.join(folder, "table.csv"), b"previous table\n")
io.save_checkpoint({"state_dict": {"w": torch.arange(10.0)}}, os.path.join(folder, "last.ckpt"))
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
report = {}
for name, write in (("bytes", lambda: write_bytes_atomic(os.path.join(folder, "table.csv"), b"x" * (4 * limit))),
                    ("checkpoint", lambda: io.save_checkpoint({"state_dict": {"w": torch.zeros(4 * limit)}},
                                                              os.path.join(folder, "last.ckpt")))):
    try:
        write()
        report[name] = None
    except OSError as error:
        report[name] = {"type": type(error).__name__, "errno": error.errno, "message": str(error)}
print(json.dumps(report))
"""


def test_full_disk_gives_a_clear_error_and_keeps_the_previous_files(tmp_path):
    import errno

    done = subprocess.run([sys.executable, "-c", textwrap.dedent(_FULL_DISK_CHILD), str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for name, target in (("bytes", "table.csv"), ("checkpoint", "last.ckpt")):
        error = report[name]
        assert error is not None, f"{name}: the write past the limit succeeded"
        assert error["type"] == "DiskFullError" and error["errno"] == errno.EFBIG
        assert str(tmp_path / target) in error["message"] and "file size limit exceeded" in error["message"]
        assert "is unchanged" in error["message"]
    assert (tmp_path / "table.csv").read_bytes() == b"previous table\n"
    previous = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert torch.equal(previous["state_dict"]["w"], torch.arange(10.0))
    assert sorted(os.listdir(tmp_path)) == ["last.ckpt", "table.csv"], "temporary files were left behind"


def test_no_space_left_is_named(tmp_path, monkeypatch):
    """ENOSPC (a full disk proper) gets the same treatment; simulated at the write call."""
    import errno

    path = write_text_atomic(tmp_path / "iou.json", "{}")

    class Full:
        def __init__(self, handle):
            self.handle = handle

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.handle, name)

    import recon.atomic_io as atomic_io

    monkeypatch.setattr(atomic_io, "_CountingWriter", lambda handle, _real=atomic_io._CountingWriter: _real(Full(handle)))
    with pytest.raises(DiskFullError, match=r"iou\.json: no space left on device") as caught:
        write_text_atomic(path, "{\"new\": 1}")
    assert caught.value.errno == errno.ENOSPC and path.read_text() == "{}"


def test_no_writer_bypasses_atomic_io():
    """Every file-writing call in recon/ (outside recon/data/, hardened separately) goes through
    recon.atomic_io: no direct write_text/write_bytes/open(..., "w")/Image.save(path)/torch.save(path)."""
    import re

    offenders = []
    pattern = re.compile(r"\.write_text\(|\.write_bytes\(|open\([^)]*['\"][wa]b?['\"]|\.savefig\(|"
                         r"torch\.save\((?![^,]*,\s*handle)|\.save\((?!buffer)[a-z_]*path")
    for file in (ROOT / "recon").rglob("*.py"):
        if "data" in file.relative_to(ROOT / "recon").parts[:1] or file.name == "atomic_io.py":
            continue
        for number, line in enumerate(file.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_preview_images_and_config_dump_are_written_atomically(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    import recon.atomic_io as atomic_io
    from recon.hydra_utils import print_config

    written = []
    real = atomic_io.open_atomic

    def spy(path, *args, **kwargs):
        written.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(atomic_io, "open_atomic", spy)
    print_config(OmegaConf.create({"a": 1}), tmp_path)
    from recon.export.previews import write_png

    write_png(tmp_path / "p.png", torch.zeros(4, 4, 3, dtype=torch.uint8).numpy())
    assert written == ["config_tree.yaml", "p.png"]
    assert (tmp_path / "config_tree.yaml").read_text().strip() == "a: 1"
