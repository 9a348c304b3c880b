"""Maps a decoder's raw outputs to vertex positions inside the unit cube (-0.5, 0.5)^3.

``base (V, 3)`` is the template scaled to the initial shape; ``centroid (B, 3)`` and
``offset (B, V, 3)`` are unconstrained decoder outputs. Both functions return
``(B, V, 3)`` and give the template at ``centroid = offset = 0``.

* :func:`softras_vertices`: the SoftRas/NMR parameterization (REFERENCE section 3). Its
  known flaw: a template coordinate that is exactly 0 has sign 0 and never moves (96 of
  the 1926 coordinates of the 642-vertex icosphere, on 90 vertices: 32 per axis).
* :func:`tanh_vertices`: ``v = 0.5 tanh(atanh(2 base) + offset + centroid_scale*centroid)``:
  the same bounded box, the centroid a shift in the atanh domain, and every coordinate
  (zeros included) free to move.
"""
from __future__ import annotations

import torch

__all__ = ["softras_vertices", "tanh_vertices", "PARAMETERIZATIONS"]


def softras_vertices(base: torch.Tensor, centroid: torch.Tensor, offset: torch.Tensor,
                     centroid_scale: float = 0.1) -> torch.Tensor:
    """``c = tanh(s_c centroid)``, ``s = sigmoid(logit(|2 base|) + offset) sign(base)``,
    ``v = 0.5 (relu(s)(1 - c) - relu(-s)(1 + c) + c)``; needs ``|base| < 0.5``."""
    c = torch.tanh(centroid_scale * centroid)[:, None, :]
    magnitude = (2.0 * base.abs()).clamp(1e-6, 1 - 1e-6)
    s = torch.sigmoid(torch.logit(magnitude) + offset) * torch.sign(base)
    return 0.5 * (torch.relu(s) * (1 - c) - torch.relu(-s) * (1 + c) + c)


def tanh_vertices(base: torch.Tensor, centroid: torch.Tensor, offset: torch.Tensor,
                  centroid_scale: float = 0.1) -> torch.Tensor:
    """``v = 0.5 tanh(atanh(2 base) + offset + s_c centroid)``; needs ``|base| < 0.5``."""
    start = torch.atanh((2.0 * base).clamp(-1 + 1e-6, 1 - 1e-6))
    return 0.5 * torch.tanh(start + offset + centroid_scale * centroid[:, None, :])


PARAMETERIZATIONS = {"softras": softras_vertices, "tanh": tanh_vertices}
