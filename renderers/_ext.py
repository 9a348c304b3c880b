"""Loads the compiled extension ``renderers._C`` with a clear message when it is missing."""

from __future__ import annotations

import functools
from types import ModuleType

import torch

_BUILD_HINT = (
    "the compiled renderers extension (renderers._C) is not available. Build it from the "
    "repository root with `pip install --no-build-isolation -e .` (torch must be installed "
    "first); see README.md. Set RENDERERS_CUDA=0/1 to force the CUDA kernels off/on."
)


@functools.lru_cache(maxsize=None)
def extension() -> ModuleType:
    """Returns the compiled module, raising ImportError with build instructions if absent."""
    try:
        from renderers import _C  # noqa: PLC0415  (imported lazily so pure-Python parts work without it)
    except ImportError as error:
        raise ImportError(f"{_BUILD_HINT}\n(original error: {error})") from error
    return _C


def option_enum(enum_name: str, value: str):
    """The compiled ops' bound option enum member ``value`` of enum ``enum_name`` (for example
    ``option_enum("SoftDistance", "euclidean")``): options reach the kernels by name, not by the
    position of a string in a tuple. Raises ValueError naming the choices for an unknown value."""
    members = getattr(extension(), enum_name).__members__
    if value not in members:
        raise ValueError(f"unknown {enum_name} {value!r}; choices: {', '.join(members)}")
    return members[value]


def has_cuda() -> bool:
    """True when the extension was built with CUDA kernels."""
    return bool(extension().with_cuda)


def check_device(tensor: torch.Tensor, what: str) -> None:
    """Raises a clear error for a device the build cannot run on."""
    if tensor.device.type == "cpu":
        return
    if tensor.device.type == "cuda":
        if not has_cuda():
            raise RuntimeError(
                f"{what} is on {tensor.device}, but renderers was built without CUDA kernels; "
                "reinstall with a CUDA toolkit present (RENDERERS_CUDA=1) or use CPU tensors"
            )
        return
    raise RuntimeError(f"{what} is on {tensor.device}; renderers supports only 'cpu' and 'cuda' tensors")
