"""Atomic, durable file writes: every file the framework writes goes through here.

A write goes to a temporary file in the target's folder, is flushed and ``fsync``-ed, then
renamed over the target (``os.replace``) and the folder is ``fsync``-ed, so

* readers (and a run killed at any instant, SIGKILL included) see either the previous file or
  the complete new one, never a truncated file;
* after the call returns the new file survives a power loss (as far as the filesystem honours
  ``fsync``);
* a full disk or a file-size limit raises :class:`DiskFullError` (an ``OSError`` with the
  original ``errno``) naming the path and what ran out, the temporary file is removed and the
  previous file at ``path`` is left untouched.

:func:`write_bytes_atomic` / :func:`write_text_atomic` take the whole content;
:func:`open_atomic` is the streaming form (checkpoints are written through it by
:class:`recon.checkpoint_io.AtomicCheckpointIO`).
"""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["DiskFullError", "open_atomic", "write_bytes_atomic", "write_text_atomic", "fsync_directory"]

_SPACE_ERRNOS = {errno.ENOSPC: "no space left on device",
                 errno.EFBIG: "file size limit exceeded (the process limit, ulimit -f / RLIMIT_FSIZE, or the "
                              "filesystem's maximum file size)",
                 getattr(errno, "EDQUOT", -1): "disk quota exceeded"}


class DiskFullError(OSError):
    """Writing ran out of space: ``ENOSPC`` (no space left on device), ``EDQUOT`` (quota) or
    ``EFBIG`` (the file-size limit, ``ulimit -f`` / ``RLIMIT_FSIZE``, or the filesystem's
    maximum file size). ``errno`` and ``filename`` are those of the failed write."""


def fsync_directory(folder: str | os.PathLike) -> None:
    """``fsync`` a folder so a rename inside it is durable (a no-op where folders cannot be
    opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on folders; the rename itself is still atomic
        pass
    finally:
        os.close(fd)


def _space_error(path: Path, error: OSError, written: int) -> OSError:
    """A clear :class:`DiskFullError` for a space-related ``error``; other errors unchanged."""
    what = _SPACE_ERRNOS.get(error.errno)
    if what is None:
        return error
    message = (f"cannot write {path}: {what}, after {written} bytes. The previous {path.name} (if any) is "
               "unchanged; free space or raise the limit and retry")
    clear = DiskFullError(error.errno, message)
    clear.filename = str(path)  # set after construction so str() does not repeat the path
    return clear


class _CountingWriter:
    """A binary file wrapper that counts the bytes written and remembers the first ``OSError``
    (some writers, e.g. ``torch.save``'s zip writer, re-raise it as another exception type)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.written = 0
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            count = self._handle.write(data)
        except OSError as error:
            self.error = self.error or error
            raise
        self.written += len(data) if count is None else count
        return len(data) if count is None else count

    def flush(self) -> None:
        try:
            self._handle.flush()
        except OSError as error:
            self.error = self.error or error
            raise

    def __getattr__(self, name: str):
        return getattr(self._handle, name)


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Context manager yielding a binary file whose content replaces ``path`` atomically and
    durably when the block exits without an exception (see the module docstring); on an
    exception the temporary file is removed and ``path`` is untouched. Creates missing parent
    folders. Space errors become :class:`DiskFullError`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    writer: _CountingWriter | None = None
    try:
        with os.fdopen(fd, "wb") as handle:
            writer = _CountingWriter(handle)
            yield writer  # type: ignore[misc]
            writer.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # mkstemp makes files private (0600): give outputs the usual mode
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        cause = writer.error if writer is not None and writer.error is not None else error
        if isinstance(cause, OSError):
            clear = _space_error(path, cause, writer.written if writer is not None else 0)
            if clear is not cause:
                raise clear from error
        raise
    fsync_directory(path.parent)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Writes ``data`` to ``path`` through a temporary file in the same folder, fsync-ed and
    renamed into place (``os.replace``) once complete, then fsyncs the folder; creates missing
    parent folders. Returns the path (mode 0644). A full disk raises :class:`DiskFullError`
    and leaves the previous file intact."""
    path = Path(path)
    with open_atomic(path) as handle:
        handle.write(data)
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """:func:`write_bytes_atomic` for UTF-8 text."""
    return write_bytes_atomic(path, text.encode("utf-8"))
