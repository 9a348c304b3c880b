"""The one guarded way the framework turns configs into objects (``hydra.utils.instantiate``).

A Hydra config can name any importable callable in ``_target_`` (``_target_: os.system`` with
``_args_: [...]`` runs a shell command), and configs come from files, the command line and
sweeps. :func:`instantiate` therefore checks every ``_target_`` in the config (nested ones
and those in keyword arguments included) before Hydra imports or calls anything:

* allowed: this project's packages (``recon.``, ``renderers.``) and the libraries its configs
  use (:data:`ALLOWED_PREFIXES`: ``pytorch_lightning.``, ``lightning.``,
  ``lightning_fabric.``, ``torch.``, ``torchvision.``, ``torchmetrics.``, ``hydra.``,
  ``omegaconf.``);
* refused even there: entry points that load or run code (:data:`DENIED_PREFIXES`:
  ``torch.hub``, ``torch.load``, ``torch.jit.load``, ``torch.package``, ``torch.utils.cpp_extension``,
  ``torch.ops``, ``torch.serialization``, ``hydra.utils``, ``hydra._internal``, ...);
* opt-in for anything else: ``allow_any_target=true`` in the config (top level) or the
  environment variable ``RECON_ALLOW_ANY_TARGET=1``.

A refused config raises :class:`DisallowedTargetError` naming the target, where it is in the
config and how to opt in; nothing has been imported or called by then.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from omegaconf import DictConfig, ListConfig

__all__ = ["ALLOWED_PREFIXES", "DENIED_PREFIXES", "DisallowedTargetError", "check_targets", "instantiate",
           "any_target_allowed", "ENV_ALLOW_ANY_TARGET"]

ALLOWED_PREFIXES = ("recon.", "renderers.", "pytorch_lightning.", "lightning.", "lightning_fabric.", "torch.",
                    "torchvision.", "torchmetrics.", "hydra.", "omegaconf.")
DENIED_PREFIXES = ("torch.hub", "torch.load", "torch.jit.load", "torch.package", "torch.utils.cpp_extension",
                   "torch.ops", "torch.serialization", "torch.library", "torch._", "torch.compile",
                   "torch.utils.data.datapipes", "hydra.utils", "hydra._internal", "hydra.core",
                   "omegaconf.OmegaConf.load", "pytorch_lightning.cli", "lightning.pytorch.cli",
                   "pytorch_lightning.core.saving", "lightning_fabric.utilities.cloud_io")
ENV_ALLOW_ANY_TARGET = "RECON_ALLOW_ANY_TARGET"
_TARGET_KEYS = ("_target_",)


class DisallowedTargetError(ValueError):
    """A config's ``_target_`` is outside the allow-list (see the module docstring)."""


def any_target_allowed(cfg: Any = None) -> bool:
    """Whether the user opted out of the allow-list: ``RECON_ALLOW_ANY_TARGET=1`` or
    ``allow_any_target: true`` at the top level of ``cfg``."""
    if os.environ.get(ENV_ALLOW_ANY_TARGET, "").strip().lower() in ("1", "true", "yes"):
        return True
    if isinstance(cfg, (DictConfig, Mapping)):
        try:
            return bool(cfg.get("allow_any_target", False))
        except Exception:  # noqa: BLE001 - an unresolvable value is not an opt-in
            return False
    return False


_UNRESOLVABLE = object()


def _child(node: Any, key: Any) -> Any:
    """``node[key]`` with only that value's interpolation resolved; :data:`_UNRESOLVABLE` when
    it cannot be (``???``, ``${hydra:...}`` outside a Hydra run): such a value cannot be
    instantiated either."""
    try:
        return node[key]
    except Exception:  # noqa: BLE001 - omegaconf raises several resolution/missing-value errors
        return _UNRESOLVABLE


def _targets(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    """``(location, target)`` of every ``_target_`` in a (Omega)config, nested ones and those
    reached through interpolations included; other values are not resolved."""
    if isinstance(node, (DictConfig, Mapping)):
        for key in list(node.keys()):
            here = f"{where}.{key}" if where else str(key)
            value = _child(node, key)
            if key in _TARGET_KEYS:
                yield here, value  # an unresolvable target is refused below (fail closed)
            elif value is not _UNRESOLVABLE:
                yield from _targets(value, here)
    elif isinstance(node, (ListConfig, list, tuple)):
        for i in range(len(node)):
            value = _child(node, i)
            if value is not _UNRESOLVABLE:
                yield from _targets(value, f"{where}[{i}]")


def _allowed(target: Any) -> bool:
    if not isinstance(target, str):
        return False  # classes/functions given as objects are checked by their dotted name below
    name = target.strip()
    if any(name == p.rstrip(".") or name.startswith(p) for p in DENIED_PREFIXES):
        return False
    return any(name.startswith(p) for p in ALLOWED_PREFIXES)


def _dotted(target: Any) -> Any:
    """Callables passed directly as ``_target_`` -> their dotted name (strings unchanged)."""
    if isinstance(target, str):
        return target
    if target is _UNRESOLVABLE:
        return "<unresolvable interpolation>"
    module, name = getattr(target, "__module__", None), getattr(target, "__qualname__", None)
    return f"{module}.{name}" if module and name else repr(target)


def check_targets(config: Any, where: str = "", *, root: Any = None, **kwargs: Any) -> None:
    """Raises :class:`DisallowedTargetError` if ``config`` (or a config-like keyword argument)
    names a ``_target_`` outside the allow-list, unless :func:`any_target_allowed` (``root``:
    the full config holding ``allow_any_target``)."""
    if any_target_allowed(root if root is not None else config):
        return
    items = list(_targets(config, where))
    for key, value in kwargs.items():
        if isinstance(value, (DictConfig, ListConfig, Mapping, list, tuple)):
            items += list(_targets(value, f"{where}.{key}" if where else key))
    for location, target in items:
        name = _dotted(target)
        if not _allowed(name):
            raise DisallowedTargetError(
                f"refusing to instantiate _target_ {name!r} (at {location or '<config>'}): configs may only "
                f"instantiate classes from this project and {', '.join(p.rstrip('.') for p in ALLOWED_PREFIXES[2:])} "
                f"(not {', '.join(DENIED_PREFIXES[:4])}, ...). If you trust this config, opt in with "
                f"allow_any_target=true or {ENV_ALLOW_ANY_TARGET}=1. Nothing was instantiated")


def instantiate(config: Any, *args: Any, root: Any = None, where: str = "", **kwargs: Any) -> Any:
    """``hydra.utils.instantiate(config, *args, **kwargs)`` after :func:`check_targets`."""
    from hydra.utils import instantiate as hydra_instantiate  # noqa: PLC0415

    check_targets(config, where, root=root, **kwargs)
    return hydra_instantiate(config, *args, **kwargs)
