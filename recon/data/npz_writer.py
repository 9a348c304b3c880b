"""Atomic, streaming writers for single-array ``.npz`` files (numpy key ``arr_0``).

The array is written chunk by chunk along axis 0 straight into the zip member, so a
split of any size is assembled with bounded memory. By default the member is stored
uncompressed (ZIP_STORED), which lets :class:`recon.data.npz_array.NpzArray` memory-map
it in place. Files appear under their final name only when complete (temporary file in
the same folder, then ``os.replace``). The bytes depend only on the array (fixed zip
timestamp), so a re-run writes an identical file.
"""
from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

#: Timestamp of the zip member (the zip epoch, as ``np.savez`` writes): equal arrays give
#: byte-identical files, so outputs can be compared and checksummed across runs.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


class NpzStreamWriter:
    """Write one array of known ``shape``/``dtype`` into ``path`` in axis-0 chunks.

    Use as a context manager; the file is published on a clean exit only.
    """

    def __init__(self, path: str | os.PathLike, shape: tuple[int, ...], dtype,
                 compress: bool = False) -> None:
        self.path = Path(path)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".",
                                         suffix=".tmp")
        os.close(fd)
        mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        self._zf = zipfile.ZipFile(self._tmp, mode="w", compression=mode, allowZip64=True)
        member = zipfile.ZipInfo("arr_0.npy", date_time=ZIP_DATE_TIME)  # fixed: same bytes every run
        member.compress_type = mode
        self._fp = self._zf.open(member, mode="w", force_zip64=True)
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": self.shape}
        np.lib.format.write_array_header_1_0(self._fp, header)
        self._rows = 0

    def write(self, chunk: np.ndarray) -> None:
        """Append ``chunk`` of shape ``(n, *shape[1:])`` (cast to the file's dtype)."""
        chunk = np.ascontiguousarray(chunk, dtype=self.dtype)
        if chunk.shape[1:] != self.shape[1:]:
            raise ValueError(f"{self.path}: chunk shape {chunk.shape} does not match {self.shape}")
        if self._rows + chunk.shape[0] > self.shape[0]:
            raise ValueError(f"{self.path}: more rows than the declared {self.shape[0]}")
        self._fp.write(chunk.tobytes())
        self._rows += chunk.shape[0]

    def close(self) -> None:
        """Finish and atomically publish the file (raises if rows are missing)."""
        self._fp.close()
        self._zf.close()
        if self._rows != self.shape[0]:
            self.abort()
            raise ValueError(f"{self.path}: wrote {self._rows} rows, declared {self.shape[0]}")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self._tmp, 0o666 & ~umask)  # mkstemp creates 0600; publish like open() would
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Discard the temporary file."""
        try:
            self._fp.close()
            self._zf.close()
        except Exception:  # noqa: BLE001 - best effort cleanup
            pass
        if os.path.exists(self._tmp):
            os.unlink(self._tmp)

    def __enter__(self) -> "NpzStreamWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def save_npz_atomic(path: str | os.PathLike, array: np.ndarray, compress: bool = False) -> None:
    """Write ``array`` as the single member ``arr_0`` of ``path``, atomically."""
    array = np.asarray(array)
    if array.ndim == 0:
        raise ValueError(f"{path}: cannot stream a 0-d array")
    with NpzStreamWriter(path, array.shape, array.dtype, compress=compress) as w:
        w.write(array)
