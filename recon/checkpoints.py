"""Loading a trained model for evaluation and export, and choosing its device."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

__all__ = ["resolve_device", "load_module"]


def resolve_device(name: str | None) -> torch.device:
    """``"auto"`` (or ``None``): CUDA when available, else the CPU; otherwise ``name``."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} was requested but CUDA is not available; use device=auto or device=cpu")
    return device


def load_module(ckpt_path: str | os.PathLike, device: torch.device):
    """The :class:`recon.module.ReconstructionModule` of a checkpoint saved by ``recon-train``,
    in eval mode on ``device``. Missing files and files that are not such checkpoints raise
    errors naming the path."""
    from recon.module import ReconstructionModule  # noqa: PLC0415

    path = Path(ckpt_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        module = ReconstructionModule.load_from_checkpoint(str(path), map_location="cpu")
    except (KeyError, RuntimeError, TypeError, ValueError, EOFError, pickle.UnpicklingError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"cannot load a reconstruction model from {str(path)!r}: it is not a checkpoint "
                         f"saved by recon-train ({reason})") from error
    return module.to(device).eval()
