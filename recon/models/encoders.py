"""Image encoders: ``(B, 4, 64, 64)`` RGBA in [0, 1] -> ``(B, latent_dim)`` features.

* :class:`ConvEncoder`: the SoftRas/NMR encoder (REFERENCE section 3): three 5x5
  stride-2 convolutions 4->64->128->256 (BatchNorm optional: SoftRas uses it, NMR not),
  then fully connected 1024, 1024, ``latent_dim``, each followed by ReLU.
* :class:`ResNetEncoder`: torchvision ResNet-18/34, randomly initialised or loaded from a
  local weights file (no downloads), its first convolution widened to RGBA.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ConvEncoder", "ResNetEncoder", "load_state_dict_file"]


class ConvEncoder(nn.Module):
    """The convolutional encoder of SoftRas (``batch_norm=True``) and NMR (``False``)."""

    def __init__(self, in_channels: int = 4, image_size: int = 64, latent_dim: int = 512,
                 channels: Sequence[int] = (64, 128, 256), hidden: Sequence[int] = (1024, 1024),
                 batch_norm: bool = True) -> None:
        super().__init__()
        if image_size % (2 ** len(channels)):
            raise ValueError(f"image_size {image_size} must be divisible by {2 ** len(channels)}")
        layers: list[nn.Module] = []
        previous = in_channels
        for width in channels:
            layers.append(nn.Conv2d(previous, width, 5, stride=2, padding=2, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            previous = width
        self.features = nn.Sequential(*layers)
        side = image_size // 2 ** len(channels)
        dims = [previous * side * side, *hidden, latent_dim]
        fc: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(dims[:-1], dims[1:]):
            fc += [nn.Linear(a, b), nn.ReLU(inplace=True)]
        self.head = nn.Sequential(*fc)
        self.in_channels = in_channels
        self.image_size = image_size
        self.latent_dim = latent_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images (B, C, S, S)`` -> ``(B, latent_dim)``."""
        return self.head(self.features(images))


def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict from a local ``.pth``/``.pt`` file (plain, or wrapped in ``state_dict``).

    Read with ``torch.load(weights_only=True)`` (:func:`recon.safe_load.safe_torch_load`): a
    file crafted to run code when unpickled is refused (``UnsafeCheckpointError``, a
    ``ValueError`` naming the file) before anything in it executes."""
    from recon.safe_load import UnsafeCheckpointError, safe_torch_load  # noqa: PLC0415

    try:  # a missing file: FileNotFoundError("weights file not found: <path>")
        state = safe_torch_load(path, "weights file")
    except UnsafeCheckpointError:
        raise
    except ValueError as exc:
        raise ValueError(f"cannot read weights file {path}: it is corrupt or not a torch state dict ({exc})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"weights file {path} does not hold a state dict of tensors")
    return state


class ResNetEncoder(nn.Module):
    """torchvision ResNet-18/34 trunk + ``Linear(512, latent_dim)`` + ReLU.

    weights: ``None`` for random initialisation, or the path of a local torchvision
    ImageNet state dict (e.g. ``resnet18-f37072fd.pth``); its RGB filters are copied and
    the alpha channel's filter starts as their mean.
    """

    def __init__(self, depth: int = 18, latent_dim: int = 512, in_channels: int = 4,
                 weights: str | os.PathLike | None = None) -> None:
        super().__init__()
        from torchvision import models  # noqa: PLC0415 - only this encoder needs it

        builders = {18: models.resnet18, 34: models.resnet34}
        if depth not in builders:
            raise ValueError(f"ResNet depth must be one of {sorted(builders)}, got {depth}")
        trunk = builders[depth](weights=None)
        if weights is not None:
            state = load_state_dict_file(weights)
            missing, unexpected = trunk.load_state_dict(state, strict=False)
            trunk_keys = [k for k in missing if not k.startswith("fc.")]
            if trunk_keys or unexpected:
                raise ValueError(f"weights file {weights} does not match ResNet-{depth}: "
                                 f"missing {trunk_keys[:5]}, unexpected {list(unexpected)[:5]}")
        rgb_conv = trunk.conv1
        conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        with torch.no_grad():
            conv1.weight[:, :3] = rgb_conv.weight
            if in_channels > 3:
                conv1.weight[:, 3:] = rgb_conv.weight.mean(1, keepdim=True)
        trunk.conv1 = conv1
        trunk.fc = nn.Identity()
        self.trunk = trunk
        self.head = nn.Sequential(nn.Linear(512, latent_dim), nn.ReLU(inplace=True))
        self.latent_dim = latent_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images (B, C, S, S)`` -> ``(B, latent_dim)``."""
        return self.head(self.trunk(images))
