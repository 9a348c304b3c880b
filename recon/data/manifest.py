"""Manifests of generated data files: what a finished file looks like, so an interrupted
run can tell complete outputs from missing or damaged ones and resume.

A *file record* is ``{"bytes": size, "crc32": "8 hex digits"}`` (CRC-32 of the whole
file). Manifests are JSON objects written atomically (:func:`recon.atomic_io.write_text_atomic`);
the tools keep their records under a ``"files"`` key mapping file names (relative to the
data folder) to records.
"""
from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Iterable, Mapping

from recon.atomic_io import write_text_atomic

_CHUNK = 16 << 20


class ManifestError(ValueError):
    """A manifest file exists but cannot be used (not JSON, not an object, keys missing)."""


def crc32_of(path: str | os.PathLike) -> str:
    """CRC-32 of the file's bytes as 8 lowercase hex digits (streamed, bounded memory)."""
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


def file_record(path: str | os.PathLike) -> dict:
    """``{"bytes", "crc32"}`` of a finished file."""
    return {"bytes": os.path.getsize(path), "crc32": crc32_of(path)}


def record_problem(path: Path, record: Mapping, full: bool = True) -> str | None:
    """Why ``path`` does not match ``record`` (``None`` when it does). ``full=False`` checks
    existence and size only; ``full=True`` also the CRC-32 (reads the file)."""
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size != record.get("bytes"):
        return f"is {size} bytes, the manifest says {record.get('bytes')}"
    if full and "crc32" in record and crc32_of(path) != record["crc32"]:
        return f"content differs from the manifest (CRC-32 {crc32_of(path)}, expected {record['crc32']})"
    return None


def read_manifest(path: Path, required: Iterable[str] = ()) -> dict | None:
    """The JSON object in ``path``; ``None`` when there is no such file. Raises
    :class:`ManifestError` naming the file when it is not a JSON object with ``required`` keys."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ManifestError(f"{path}: corrupt manifest, not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: corrupt manifest, a JSON {type(data).__name__} instead of an object")
    missing = [k for k in required if k not in data]
    if missing:
        raise ManifestError(f"{path}: corrupt manifest, missing {', '.join(missing)}")
    files = data.get("files", {})
    if not isinstance(files, dict) or not all(isinstance(r, dict) for r in files.values()):
        raise ManifestError(f"{path}: corrupt manifest, 'files' must map names to records")
    return data


def write_manifest(path: Path, data: Mapping) -> None:
    """Writes ``data`` as indented JSON, atomically."""
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def temp_target(name: str) -> str | None:
    """The output a temporary file name belongs to: ``{out}.{random}.tmp``
    (:class:`recon.data.npz_writer.NpzStreamWriter`, ``tempfile.mkstemp``) or
    ``.{out}.{random}.tmp`` (:mod:`recon.atomic_io`) give ``out``; other names give ``None``."""
    if not name.endswith(".tmp"):
        return None
    parts = name.rsplit(".", 2)
    return parts[0] if len(parts) == 3 and parts[0] not in ("", ".") else None


def is_temp_of(name: str, outputs: Iterable[str]) -> bool:
    """Whether ``name`` is a temporary file of one of ``outputs`` (see :func:`temp_target`)."""
    target = temp_target(name)
    return target is not None and (target in outputs or (target.startswith(".") and target[1:] in outputs))


def remove_temp_files(folder: Path, outputs: Iterable[str]) -> list[Path]:
    """Deletes the leftover temporary files of ``outputs`` in ``folder`` (from a killed run);
    returns them. Nothing else is touched."""
    outputs = set(outputs)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.iterdir() if p.is_file() and is_temp_of(p.name, outputs)]
    for p in stale:
        p.unlink()
    return stale
