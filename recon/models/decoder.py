"""The decoder: a latent code -> a deformed template sphere (and optional vertex colours).

Fully connected ``latent_dim -> 1024 -> 2048`` (ReLU), then heads for the centroid (3),
the per-vertex offsets (V*3) and, for the colour model, per-vertex RGB (V*3, sigmoid).
The template is the radius-1 icosphere; the decoder's base shape is
``base = 0.5 * template_scale * template`` (``(V, 3)``), a sphere of radius
``0.5 * template_scale``: 0.25 with the recipe's ``template_scale = 0.5`` (REFERENCE section 3
writes ``b = 0.5 * template`` for the quantity the SoftRas mapping feeds to ``logit``, which
is ``2 * base`` here; the resulting sphere is the same). Both parameterizations return
exactly ``base`` at zero centroid and offsets, so the untrained prediction is that sphere
up to the small initial outputs: radius 0.25 (measured with the default initialization:
mean 0.250, range 0.22-0.29 for ``softras``; mean 0.254, range 0.13-0.35 for ``tanh``).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from recon.models.parameterization import PARAMETERIZATIONS
from recon.models.template import icosphere

__all__ = ["MeshDecoder"]


class MeshDecoder(nn.Module):
    """``forward(latent (B, L)) -> (vertices (B, V, 3), colors (B, V, 3) | None)``."""

    def __init__(self, latent_dim: int = 512, hidden: Sequence[int] = (1024, 2048),
                 subdivisions: int = 3, template_scale: float = 0.5,
                 parameterization: str = "softras", centroid_scale: float = 0.1,
                 offset_scale: float = 1.0, predict_colors: bool = False) -> None:
        super().__init__()
        if parameterization not in PARAMETERIZATIONS:
            raise ValueError(f"parameterization must be one of {sorted(PARAMETERIZATIONS)}, got {parameterization!r}")
        if not 0.0 < template_scale < 1.0:
            raise ValueError(f"template_scale must be in (0, 1) so the base sphere lies inside the unit cube, got {template_scale}")
        vertices, faces = icosphere(subdivisions)
        base = 0.5 * template_scale * vertices
        self.register_buffer("base", base, persistent=False)
        self.register_buffer("faces", faces, persistent=False)
        layers: list[nn.Module] = []
        dims = [latent_dim, *hidden]
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
        self.trunk = nn.Sequential(*layers)
        self.num_vertices = vertices.shape[0]
        self.centroid_head = nn.Linear(dims[-1], 3)
        self.offset_head = nn.Linear(dims[-1], self.num_vertices * 3)
        self.color_head = nn.Linear(dims[-1], self.num_vertices * 3) if predict_colors else None
        self.parameterization = parameterization
        self.template_scale = template_scale
        self.centroid_scale = centroid_scale
        self.offset_scale = offset_scale

    @property
    def predicts_colors(self) -> bool:
        return self.color_head is not None

    def forward(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        hidden = self.trunk(latent)
        centroid = self.centroid_head(hidden)
        offset = self.offset_scale * self.offset_head(hidden).view(-1, self.num_vertices, 3)
        to_vertices = PARAMETERIZATIONS[self.parameterization]
        vertices = to_vertices(self.base, centroid, offset, self.centroid_scale)
        colors = None
        if self.color_head is not None:
            colors = torch.sigmoid(self.color_head(hidden).view(-1, self.num_vertices, 3))
        return vertices, colors
