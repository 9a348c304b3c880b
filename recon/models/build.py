"""Builds a :class:`ReconstructionNet` from plain settings (what configs and checkpoints hold)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from recon.models.decoder import MeshDecoder
from recon.models.encoders import ConvEncoder, ResNetEncoder
from recon.models.network import ReconstructionNet

__all__ = ["build_encoder", "build_network", "ENCODERS"]

ENCODERS = {"conv": ConvEncoder, "resnet": ResNetEncoder}


def build_encoder(settings: Mapping[str, Any]) -> nn.Module:
    """``{"name": "conv" | "resnet", **keyword arguments of that encoder}``."""
    settings = dict(settings)
    name = settings.pop("name", "conv")
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; choose one of {sorted(ENCODERS)}")
    return ENCODERS[name](**settings)


def build_network(encoder: Mapping[str, Any], decoder: Mapping[str, Any]) -> ReconstructionNet:
    """An encoder (see :func:`build_encoder`) and a :class:`MeshDecoder` sharing ``latent_dim``."""
    enc = build_encoder(encoder)
    decoder = dict(decoder)
    decoder.setdefault("latent_dim", getattr(enc, "latent_dim", 512))
    if decoder["latent_dim"] != getattr(enc, "latent_dim", decoder["latent_dim"]):
        raise ValueError(f"decoder latent_dim {decoder['latent_dim']} differs from the encoder's {enc.latent_dim}")
    return ReconstructionNet(enc, MeshDecoder(**decoder))
