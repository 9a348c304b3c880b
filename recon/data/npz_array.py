"""Lazy, memory-mapped access to the single array stored in an ``.npz`` file.

Why memory-mapping: a full ShapeNet train split is about 12 GB of images, far more
than fits comfortably in RAM, and the reference loaders' habit of ``np.load``-ing it
whole is their users' top complaint. We never read a whole array:

* an uncompressed member (``np.savez``, ZIP_STORED; what our generator and converter
  write) is memory-mapped *in place*: the array's bytes sit contiguously inside the
  zip file, so we map them at their offset. Zero copies, zero preparation.
* a compressed member (``np.savez_compressed``, ZIP_DEFLATED; possibly the public
  downloads) cannot be random-accessed, so it is decompressed *once*, streamed in
  chunks (bounded memory), into a ``.npy`` cache file which is then memory-mapped.
  The cache is keyed by the source's absolute path, size and mtime and lives in
  ``cache_dir`` (``$RECON_CACHE_DIR``, default ``~/.cache/diffmesh-recon/npz``).

Decompression (:meth:`NpzArray.prepare`) is safe to run from several processes at once
(DDP ranks, several nodes on a shared filesystem, DataLoader workers): it holds an exclusive
``fcntl.flock`` on ``<cache>.lock`` beside the cache, so a second process waits, then finds
the finished cache and reuses it; the cache itself is written under a temporary name and
renamed into place (:func:`recon.atomic_io.open_atomic`), so nobody ever maps a partial
file. Members of at least :data:`PROGRESS_MIN_BYTES` show a tqdm bar (bytes written of the
total) and log where the cache goes; the datamodule runs this in ``prepare_data``.

Mapped pages are file-backed: the kernel can drop them at any time, so they never
count as the process's anonymous memory. The map itself is opened lazily in each
process (DataLoader workers included) and never pickled.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import shutil
import struct
import sys
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from recon.atomic_io import DiskFullError, open_atomic

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the atomic rename alone keeps the cache correct
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: Members at least this large (uncompressed bytes) log their extraction and show a progress
#: bar; smaller ones (e.g. per-object voxel files) extract silently.
PROGRESS_MIN_BYTES = 64 << 20
_COPY_CHUNK = 16 << 20


class DatasetFormatError(ValueError):
    """A dataset file exists but its content is not what the format requires."""


def default_cache_dir() -> Path:
    """Cache for decompressed members: ``$RECON_CACHE_DIR`` or ``~/.cache/diffmesh-recon/npz``."""
    env = os.environ.get("RECON_CACHE_DIR")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "diffmesh-recon" / "npz"


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zip local file header, 30 bytes
_ZIP64_EXTRA = 0x0001


def _read_npy_header(fp, path: Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(fp)
        return np.lib.format.read_array_header_2_0(fp)
    except (ValueError, TypeError, SyntaxError) as exc:
        raise DatasetFormatError(f"{path}: the array inside is not a valid .npy member ({exc})") from exc


def parse_local_header(raw: bytes, offset: int = 0) -> tuple[str, int, int] | None:
    """``(member name, compressed size, data offset)`` of the zip local file header at
    ``offset`` of ``raw`` (the first bytes of the file), reading zip64 sizes from the
    extra field; ``None`` when ``raw`` holds no complete local header there."""
    end = offset + _LOCAL_HEADER.size
    if len(raw) < end or raw[offset:offset + 4] != b"PK\x03\x04":
        return None
    fields = _LOCAL_HEADER.unpack(raw[offset:end])
    csize, name_len, extra_len = fields[8], fields[10], fields[11]
    name = raw[end:end + name_len].decode("utf-8", "replace")
    extra = raw[end + name_len:end + name_len + extra_len]
    if csize == 0xFFFFFFFF:  # zip64: (uncompressed, compressed) sizes in the 0x0001 extra field
        i = 0
        while i + 4 <= len(extra):
            tag, size = struct.unpack_from("<2H", extra, i)
            if tag == _ZIP64_EXTRA and size >= 16:
                csize = struct.unpack_from("<2Q", extra, i + 4)[1]
                break
            i += 4 + size
    return name, int(csize), end + name_len + extra_len


def describe_unreadable_zip(path: Path, exc: BaseException) -> str:
    """What is wrong with a file ``zipfile`` cannot open, in words: empty, a bare ``.npy``,
    a Git LFS pointer, an HTML page (failed download), a truncated member (cut short by an
    interrupted download or copy: expected vs found bytes) or a damaged zip directory."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4096)
    if size == 0:
        return "empty file (0 bytes)"
    if head.startswith(b"\x93NUMPY"):
        return "a bare .npy array, not an .npz (zip) archive"
    if head.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer, not the data (fetch it with `git lfs pull`)"
    if head.lstrip()[:5].lower() in (b"<!doc", b"<html"):
        return "an HTML page, not data (a failed download?)"
    local = parse_local_header(head)
    if local is not None:
        name, csize, data_offset = local
        if data_offset + csize > size:
            return (f"truncated zip member {name!r} (expected {csize} bytes, found "
                    f"{max(0, size - data_offset)}); the file is cut short, download or generate it again")
        return f"truncated or corrupt .npz: its zip directory is missing or damaged ({size} bytes; {exc})"
    return f"not a valid .npz (zip) file (starts with {head[:8]!r}; {exc})"


class NpzArray:
    """The first array of an ``.npz`` file, memory-mapped on first use.

    Attributes ``shape`` and ``dtype`` are read from the header at construction
    (cheap: a few hundred bytes). ``array`` returns a read-only ``np.memmap``.
    """

    def __init__(self, path: str | os.PathLike, cache_dir: str | os.PathLike | None = None,
                 what: str = "array") -> None:
        self.path = Path(path)
        self.what = what
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: missing {what} file")
        try:
            with zipfile.ZipFile(self.path) as zf:
                members = [i for i in zf.infolist() if i.filename.endswith(".npy")]
                if not members:
                    raise DatasetFormatError(f"{self.path}: the .npz archive contains no array")
                info = members[0]
                self.member = info.filename
                self.compressed = info.compress_type != zipfile.ZIP_STORED
                self._header_offset = info.header_offset
                self._member_size = info.file_size
                self._data_offset = self._check_member_extent(info)
                with zf.open(info) as fp:
                    self.shape, self.fortran_order, self.dtype = _read_npy_header(fp, self.path)
                    self._npy_header_len = fp.tell() if not self.compressed else None
        except zipfile.BadZipFile as exc:
            raise DatasetFormatError(f"{self.path}: {describe_unreadable_zip(self.path, exc)}") from exc
        except (EOFError, zlib.error) as exc:
            raise DatasetFormatError(f"{self.path}: {what} member is truncated or corrupt ({exc})") from exc
        self._check_data_size()
        self._array: np.ndarray | None = None

    # -- pickling: never ship the mapped data to worker processes --------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_array"] = None
        return state

    @property
    def array(self) -> np.ndarray:
        """The read-only memory-mapped array (opened lazily, once per process)."""
        if self._array is None:
            self._array = self._open()
        return self._array

    def prepare(self) -> bool:
        """Do the one-time work now: decompress a compressed member into the cache unless
        the cache is already there. Returns whether this call decompressed it. Safe to call
        from several processes at once (see the module docstring). Does not map the array."""
        if not self.compressed:
            return False
        cache = self._cache_path()
        if cache.is_file():
            return False
        return self._extract_locked(cache)

    @property
    def cache_path(self) -> Path | None:
        """Where the decompressed copy of a compressed member lives (``None`` when the member
        is stored uncompressed and mapped in place)."""
        return self._cache_path() if self.compressed else None

    def _check_member_extent(self, info: zipfile.ZipInfo) -> int:
        """Offset of the member's data in the file; raises when the file is too short to
        hold the ``info.compress_size`` bytes the zip directory promises."""
        with open(self.path, "rb") as f:
            f.seek(info.header_offset)
            raw = f.read(_LOCAL_HEADER.size + 4096)
        local = parse_local_header(raw)
        if local is None:
            raise DatasetFormatError(f"{self.path}: corrupt zip local header for {self.member!r}")
        data_offset = info.header_offset + local[2]
        found = self.path.stat().st_size - data_offset
        if found < info.compress_size:
            raise DatasetFormatError(f"{self.path}: truncated zip member {self.member!r} (expected "
                                     f"{info.compress_size} bytes, found {max(0, found)})")
        return data_offset

    def _check_data_size(self) -> None:
        """The member must hold the bytes its ``.npy`` header promises."""
        expected = int(np.prod(self.shape)) * self.dtype.itemsize
        held = self._member_size - (self._npy_header_len or 0)
        if held < expected:
            raise DatasetFormatError(
                f"{self.path}: {self.what} member {self.member!r} is truncated: header says shape "
                f"{self.shape} {self.dtype} ({expected} bytes) but it holds {held} bytes")

    def verify(self) -> None:
        """Read the whole member and check its CRC-32 (a full read: slow on big files).
        Opening only checks the structure and sizes; this also finds flipped bytes."""
        try:
            with zipfile.ZipFile(self.path) as zf, zf.open(self.member) as fp:
                while fp.read(16 << 20):
                    pass
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise DatasetFormatError(f"{self.path}: corrupt {self.what} member {self.member!r} ({exc})") from exc

    def _open(self) -> np.ndarray:
        order = "F" if self.fortran_order else "C"
        if not self.compressed:
            offset = self._data_offset + self._npy_header_len
            try:
                return np.memmap(self.path, dtype=self.dtype, mode="r", offset=offset,
                                 shape=self.shape, order=order)
            except ValueError as exc:
                raise DatasetFormatError(f"{self.path}: {self.what} data is truncated ({exc})") from exc
        self.prepare()  # decompress into the cache unless it is there
        cache = self._cache_path()
        try:
            arr = np.load(cache, mmap_mode="r")
        except ValueError as exc:
            raise DatasetFormatError(f"{cache}: corrupt cache of {self.path} ({exc}); delete it") from exc
        if arr.shape != tuple(self.shape) or arr.dtype != self.dtype:
            raise DatasetFormatError(f"{cache}: stale cache of {self.path}; delete it")
        return arr

    def _cache_path(self) -> Path:
        st = self.path.stat()
        key = f"{self.path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{self.member}"
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        base = self.cache_dir if self.cache_dir is not None else default_cache_dir()
        return base / f"{self.path.stem}-{digest}.npy"

    def _extract_locked(self, cache: Path) -> bool:
        """Decompress into ``cache`` holding its lock, unless another process finished it
        while this one waited; returns whether this process decompressed it."""
        cache.parent.mkdir(parents=True, exist_ok=True)
        with cache_lock(cache, f"{self.what} of {self.path.name}"):
            if cache.is_file():
                log.debug("%s: cache made by another process, reusing it", cache)
                return False
            for stale in cache.parent.glob(f".{cache.name}.*.tmp"):  # a killed extractor's (we hold the lock)
                stale.unlink(missing_ok=True)
            self._extract(cache)
            return True

    def _check_free_space(self, cache: Path) -> None:
        free = shutil.disk_usage(cache.parent).free
        if free < self._member_size:
            error = DiskFullError(
                errno.ENOSPC, f"cannot decompress the {self.what} of {self.path} into the cache folder "
                f"{cache.parent}: it needs {_size(self._member_size)} and {_size(free)} are free. Free space, "
                "or point data.cache_dir (or $RECON_CACHE_DIR) at a disk with room")
            error.filename = str(cache)
            raise error

    def _extract(self, cache: Path) -> None:
        """Stream the member into ``cache`` (atomically: a temporary file renamed into place),
        with a progress bar for big members. The caller holds the cache's lock."""
        total = self._member_size
        self._check_free_space(cache)
        loud = total >= PROGRESS_MIN_BYTES
        (log.info if loud else log.debug)(
            "decompressing the %s of %s (%s) into the cache %s (once; later runs map it)",
            self.what, self.path, _size(total), cache)
        start = time.perf_counter()
        interactive = bool(getattr(sys.stderr, "isatty", lambda: False)())
        try:
            with open_atomic(cache) as out, zipfile.ZipFile(self.path) as zf, zf.open(self.member) as src, \
                    tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, disable=not loud,
                         desc=f"decompressing {self.path.name}", mininterval=0.5 if interactive else 30.0,
                         file=sys.stderr) as bar:
                while chunk := src.read(_COPY_CHUNK):  # zipfile verifies the CRC at the end
                    out.write(chunk)
                    bar.update(len(chunk))
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise DatasetFormatError(f"{self.path}: corrupt compressed {self.what} member ({exc})") from exc
        (log.info if loud else log.debug)("decompressed %s into %s in %.1f s", self.path.name, cache,
                                          time.perf_counter() - start)


def _size(count: int) -> str:
    """``count`` bytes in words: ``'12.0 GiB (12884901888 bytes)'``."""
    value, unit = float(count), "bytes"
    for name in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, name
    return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit} ({count} bytes)"


@contextlib.contextmanager
def cache_lock(cache: Path, what: str) -> Iterator[None]:
    """Hold an exclusive ``fcntl.flock`` on ``<cache>.lock`` (created beside ``cache``, and
    left there: removing a lock file other processes may have open would break the lock).
    A process that finds it held logs that it waits for ``what``, then blocks until the
    holder is done. Where locks are unsupported (no ``fcntl``, a filesystem refusing
    ``flock``) it proceeds unlocked: extraction stays correct (atomic rename), it may only
    be done twice."""
    lock_path = cache.with_name(cache.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    log.info("%s: another process is decompressing the %s; waiting for it", lock_path, what)
                    fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:
                if isinstance(exc, BlockingIOError) or exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP,
                                                                         errno.ENOSYS, errno.EINVAL):
                    raise
                log.warning("%s: file locks are not supported here (%s); decompressing without one", lock_path, exc)
        yield
    finally:
        os.close(fd)  # releases the lock
