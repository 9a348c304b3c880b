"""Image -> mesh: an encoder followed by the sphere-deforming decoder."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from recon.models.decoder import MeshDecoder

__all__ = ["MeshPrediction", "ReconstructionNet"]


@dataclass
class MeshPrediction:
    """``vertices (B, V, 3)`` in (-0.5, 0.5), ``faces (F, 3)`` int64 shared by the batch,
    ``colors (B, V, 3)`` in [0, 1] or ``None`` (silhouette model)."""

    vertices: torch.Tensor
    faces: torch.Tensor
    colors: torch.Tensor | None = None


class ReconstructionNet(nn.Module):
    """``forward(images (B, 4, S, S) RGBA in [0, 1]) -> MeshPrediction``."""

    def __init__(self, encoder: nn.Module, decoder: MeshDecoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    @property
    def faces(self) -> torch.Tensor:
        return self.decoder.faces

    def forward(self, images: torch.Tensor) -> MeshPrediction:
        if images.dim() != 4 or images.shape[1] != 4:
            raise ValueError(f"images must have shape (B, 4, H, W) (RGBA), got {tuple(images.shape)}")
        vertices, colors = self.decoder(self.encoder(images))
        return MeshPrediction(vertices, self.decoder.faces, colors)
