"""Renderer names -> classes, and ``create`` with option checking and helpful errors."""

from __future__ import annotations

import dataclasses
import difflib
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from .base import Renderer

__all__ = ["register", "create", "available", "renderer_class", "option_names"]

_REGISTRY: dict[str, type[Renderer]] = {}
R = TypeVar("R", bound="type[Renderer]")


def register(name: str):
    """Class decorator: makes a Renderer subclass available as ``create(name)``."""

    def decorator(cls: R) -> R:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"a renderer named {name!r} is already registered ({_REGISTRY[name].__name__})")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def available() -> list[str]:
    """Names accepted by ``create``, sorted."""
    return sorted(_REGISTRY)


def renderer_class(name: str) -> type[Renderer]:
    """The class registered under ``name``; a clear KeyError listing valid names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), _REGISTRY, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"unknown renderer {name!r}; available: {', '.join(available())}.{hint}") from None


def option_names(name: str) -> list[str]:
    """Options accepted by renderer ``name`` (common ones included)."""
    return [f.name for f in dataclasses.fields(renderer_class(name).Options)]


def create(name: str, image_size: int = 64, viewing_angle: float = 15.0, **options) -> Renderer:
    """Builds renderer ``name`` (an ``nn.Module``) with validated options.

    Unknown names and options raise errors that list the valid ones.
    """
    cls = renderer_class(name)
    valid = option_names(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, valid, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TypeError(
            f"unknown option(s) for renderer {name!r}: {', '.join(hints)}; valid options: {', '.join(valid)}"
        )
    return cls(image_size=image_size, viewing_angle=viewing_angle, **options)
