"""Loading a trained model for evaluation and export, and choosing its device."""
from __future__ import annotations

import os
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
    in eval mode on ``device``.

    The file is read with ``torch.load(weights_only=True)`` (:func:`recon.safe_load.safe_torch_load`:
    a checkpoint crafted to run code is refused before anything in it executes) and the
    module is built from its plain hyper-parameters, then given its weights; Lightning's
    ``load_from_checkpoint`` is not used because its loader may fall back to full unpickling.
    Missing files, unsafe files and files that are not such checkpoints raise errors naming
    the path."""
    from recon.module import ReconstructionModule  # noqa: PLC0415
    from recon.safe_load import UnsafeCheckpointError, safe_torch_load  # noqa: PLC0415

    path = Path(ckpt_path).expanduser()
    try:  # a missing file: FileNotFoundError("checkpoint not found: <path>")
        checkpoint = safe_torch_load(path, "checkpoint", map_location="cpu")
    except UnsafeCheckpointError:
        raise
    except ValueError as error:
        raise ValueError(f"cannot load a reconstruction model from {str(path)!r}: it is not a checkpoint saved "
                         f"by recon-train ({error})") from error
    try:
        if not isinstance(checkpoint, dict):
            raise TypeError(f"it holds a {type(checkpoint).__name__}, not a checkpoint dict")
        hparams = checkpoint.get("hyper_parameters")
        if not isinstance(hparams, dict) or "state_dict" not in checkpoint:
            raise KeyError("no 'hyper_parameters' / 'state_dict' entries")
        module = ReconstructionModule(**hparams)
        module.load_state_dict(checkpoint["state_dict"], strict=True)
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"cannot load a reconstruction model from {str(path)!r}: it is not a checkpoint "
                         f"saved by recon-train ({reason})") from error
    return module.to(device).eval()
