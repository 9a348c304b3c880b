"""What the Hydra entry points share: the repository root, wandb's mode, the sweep/DDP guard,
instantiating callbacks and loggers from their config groups (through the allow-listed
:func:`recon.safe_instantiate.instantiate`), and saving the resolved config atomically."""
from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

__all__ = ["CONFIG_DIR", "register_resolvers", "set_project_root", "configure_wandb_mode", "check_sweep_strategy",
           "instantiate_callbacks", "instantiate_loggers", "print_config"]

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = str(PROJECT_ROOT / "configs")


def _int_mul(value: float, factor: float) -> int:
    """``${int_mul:${trainer.max_steps},0.95}``: ``round(value * factor)`` as an int (a step)."""
    return int(round(float(value) * float(factor)))


def register_resolvers() -> None:
    """The OmegaConf resolvers the configs use (idempotent; called on import)."""
    if not OmegaConf.has_resolver("int_mul"):
        OmegaConf.register_new_resolver("int_mul", _int_mul)


register_resolvers()


def set_project_root() -> None:
    """``paths.root_dir`` reads ``DIFFMESH_ROOT``; default it to this checkout."""
    os.environ.setdefault("DIFFMESH_ROOT", str(PROJECT_ROOT))


def _has_wandb_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def configure_wandb_mode(cfg: DictConfig) -> None:
    """Offline wandb when it is configured but no credentials exist; ``WANDB_MODE`` wins."""
    uses_wandb = any("Wandb" in str(c.get("_target_", "")) for c in (cfg.get("logger") or {}).values()
                     if isinstance(c, DictConfig))
    if uses_wandb and "WANDB_MODE" not in os.environ and not _has_wandb_credentials():
        log.info("wandb: no credentials found, logging offline (sync later with `wandb sync`)")
        os.environ["WANDB_MODE"] = "offline"


def check_sweep_strategy(cfg: DictConfig) -> None:
    """Refuses multi-process ``ddp`` inside a ``-m`` sweep: Lightning relaunches the script for
    ranks > 0 and under a sweeper they would train with different hyper-parameters."""
    try:
        from hydra.core.hydra_config import HydraConfig  # noqa: PLC0415
        from hydra.types import RunMode  # noqa: PLC0415

        mode = HydraConfig.get().mode
    except (ImportError, ValueError):
        return
    trainer = cfg.get("trainer") or {}
    strategy = str(trainer.get("strategy", "") or "")
    devices = trainer.get("devices", 1)
    multi_process = devices not in (1, "1", None) or int(trainer.get("num_nodes", 1) or 1) > 1
    if mode == RunMode.MULTIRUN and strategy.startswith("ddp") and "spawn" not in strategy and multi_process:
        raise ValueError(
            f"trainer.strategy={strategy!r} with {devices} devices cannot run inside a -m sweep: its extra "
            "processes would re-run the sweep and train with different hyper-parameters. Use trainer=ddp_spawn, "
            "or one device per trial (trainer=cpu / trainer=gpu).")


def _instantiate_group(group: DictConfig | None, kind: str, root: DictConfig | None = None) -> list[Any]:
    from recon.safe_instantiate import instantiate  # noqa: PLC0415

    objects = []
    for name, conf in (group or {}).items():
        if isinstance(conf, DictConfig) and "_target_" in conf:
            log.info("instantiating %s <%s>", kind, conf._target_)
            objects.append(instantiate(conf, root=root, where=f"{kind}s.{name}"))
        elif conf is not None:
            raise ValueError(f"{kind} config {name!r} has no _target_")
    return objects


def instantiate_callbacks(cfg: DictConfig) -> list[Any]:
    return _instantiate_group(cfg.get("callbacks"), "callback", cfg)


def instantiate_loggers(cfg: DictConfig) -> list[Any]:
    return _instantiate_group(cfg.get("logger"), "logger", cfg)


def print_config(cfg: DictConfig, save_to: str | os.PathLike | None = None) -> None:
    """Prints the resolved config (rich syntax highlighting when available) and saves it to
    ``<save_to>/config_tree.yaml`` atomically (:func:`recon.atomic_io.write_text_atomic`)."""
    text = OmegaConf.to_yaml(cfg, resolve=True)
    try:
        import rich  # noqa: PLC0415
        from rich.syntax import Syntax  # noqa: PLC0415

        rich.print(Syntax(text, "yaml", theme="ansi_dark", background_color="default"))
    except ImportError:  # pragma: no cover
        print(text)
    if save_to is not None:
        from recon.atomic_io import write_text_atomic  # noqa: PLC0415

        write_text_atomic(Path(save_to) / "config_tree.yaml", text)
