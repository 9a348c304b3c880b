"""Loading ``torch.save`` files without running code from them.

``torch.load(weights_only=False)`` unpickles arbitrary objects, so a crafted checkpoint can run
any command when it is opened. Every checkpoint and weights file the framework reads goes
through :func:`safe_torch_load`, which always passes ``weights_only=True`` (explicitly: the
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` environment variable and torch versions before 2.6 would
otherwise fall back to full unpickling). Torch's weights-only unpickler accepts tensors,
storages and plain containers and scalars (dict, list, tuple, set, str, int, float, bool,
``None``, ``OrderedDict``, ``Counter``, ...), which is all a ``recon-train`` checkpoint holds
(Lightning's loop and callback states, Adam's state, ``MultiStepLR``'s ``Counter`` of
milestones, the hyper-parameters as plain dicts, the RNG states as tensors and lists), so no
extra globals are allow-listed (:data:`EXTRA_SAFE_GLOBALS` is empty on purpose).
"""
from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["UnsafeCheckpointError", "safe_torch_load", "EXTRA_SAFE_GLOBALS"]

# Types beyond torch's weights-only defaults that our files may contain: none.
EXTRA_SAFE_GLOBALS: list[Any] = []


class UnsafeCheckpointError(ValueError):
    """The file holds pickled objects outside the weights-only allow-list (it may be crafted to
    run code when unpickled); nothing from it was executed."""


def _reason(error: BaseException) -> str:
    """The informative line of a torch.load error (the unsupported global, when there is one)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    for words in (("global", "blocked"), ("unsupported",)):
        for line in lines:
            if any(word in line.lower() for word in words):
                return line
    if isinstance(error, KeyError) or not lines:
        return f"{type(error).__name__}: {error}"
    return lines[0]


def safe_torch_load(path: str | os.PathLike, what: str = "checkpoint", map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with errors that name the file.

    Raises ``FileNotFoundError`` (missing file), :class:`UnsafeCheckpointError` (the file
    wants to unpickle other objects, e.g. a ``__reduce__`` calling ``os.system``: refused,
    nothing ran) and ``ValueError`` (truncated or not a torch file)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        with torch.serialization.safe_globals(EXTRA_SAFE_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if re.search(r"GLOBAL|global|blocked|Unsupported class", str(error)):
            raise UnsafeCheckpointError(
                f"refusing to load {what} {str(path)!r}: it contains pickled objects that are not plain "
                f"tensors/containers and could run code when loaded ({_reason(error)}). Nothing from it was "
                "executed. Only checkpoints written by recon-train (or plain state dicts) are accepted") from error
        raise ValueError(f"cannot read {what} {str(path)!r}: it is corrupt or not a torch file "
                         f"({_reason(error)})") from error
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, TypeError, KeyError) as error:
        raise ValueError(f"cannot read {what} {str(path)!r}: it is corrupt, truncated or not a torch file "
                         f"({_reason(error)})") from error
