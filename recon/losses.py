"""Training losses (REFERENCE section 3).

* :func:`silhouette_iou_loss`: ``1 - sum(p t) / (sum(p + t - p t) + 1e-6)`` per image, averaged.
* :class:`LaplacianLoss`: uniform Laplacian ``L = I - A / deg``; per mesh the sum of the
  squared entries of ``L V``; averaged over the batch.
* :class:`FlattenLoss`: per mesh, the sum over interior edges of ``(cos theta + 1)^2``,
  ``theta`` the dihedral angle between the edge's two faces (0 when flat); averaged. The
  references' formula, epsilons included, which is also NMR's smoothness loss.
* :func:`color_loss`: mean absolute error between the rendered colour and the target
  colour, both composited on black; :func:`target_color_on_black` (dataset images
  ``(B, 4, H, W)`` -> ``(B, 3, H, W)``) is
  :func:`recon.data.rgb_convention.decode_color_on_black`, re-exported here.
"""
from __future__ import annotations

import torch
from torch import nn

from recon.data.rgb_convention import decode_color_on_black as target_color_on_black
from recon.models.template import interior_edge_quads, mesh_edges

__all__ = ["silhouette_iou_loss", "LaplacianLoss", "FlattenLoss", "color_loss", "target_color_on_black"]


def silhouette_iou_loss(predicted: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Soft IoU loss of silhouettes ``(N, H, W)`` in [0, 1]; a scalar (mean over N)."""
    if predicted.shape != target.shape:
        raise ValueError(f"silhouette shapes differ: {tuple(predicted.shape)} vs {tuple(target.shape)}")
    dims = tuple(range(1, predicted.dim()))
    intersection = (predicted * target).sum(dims)
    union = (predicted + target - predicted * target).sum(dims) + eps
    return (1.0 - intersection / union).mean()


class LaplacianLoss(nn.Module):
    """``forward(vertices (B, V, 3)) -> scalar``: mean over meshes of ``||L V||^2``.

    ``L V = V - (mean of each vertex's neighbours)``, evaluated with a padded neighbour table
    ``(V, max degree)`` (a gather, not a dense ``V x V`` product).
    """

    def __init__(self, faces: torch.Tensor, num_vertices: int) -> None:
        super().__init__()
        edges = mesh_edges(faces)
        both = torch.cat([edges, edges.flip(1)])
        both = both[torch.argsort(both[:, 0] * num_vertices + both[:, 1])]
        degree = torch.bincount(both[:, 0], minlength=num_vertices)
        width = max(int(degree.max()), 1) if len(both) else 1
        slot = torch.arange(len(both)) - torch.repeat_interleave(torch.cumsum(degree, 0) - degree, degree)
        neighbours = torch.zeros(num_vertices, width, dtype=torch.long)
        weights = torch.zeros(num_vertices, width)
        neighbours[both[:, 0], slot] = both[:, 1]
        weights[both[:, 0], slot] = 1.0 / degree[both[:, 0]].float()
        self.register_buffer("neighbours", neighbours, persistent=False)
        self.register_buffer("weights", weights, persistent=False)

    def forward(self, vertices: torch.Tensor) -> torch.Tensor:
        batch, num_vertices, _ = vertices.shape
        gathered = torch.index_select(vertices, 1, self.neighbours.flatten()).view(batch, num_vertices, -1, 3)
        lv = vertices - (gathered * self.weights.to(vertices.dtype)[None, :, :, None]).sum(2)
        return lv.pow(2).sum((1, 2)).mean()


class FlattenLoss(nn.Module):
    """``forward(vertices (B, V, 3)) -> scalar``: mean over meshes of ``sum (cos theta + 1)^2``.

    For an interior edge (v0, v1) with opposite vertices a and b, ``cos theta`` is the
    cosine between the perpendiculars dropped from a and from b onto the edge's line: -1
    for two coplanar faces on either side of the edge, so a flat surface costs nothing.
    Evaluated exactly as the references do, epsilons included (Kato's ``smoothness_loss`` in
    mesh_reconstruction, which SoftRas's ``FlattenLoss`` copies): a perpendicular's length is
    taken as ``|p - v0| sin(angle)``, so this is also NMR's smoothness loss.
    """

    def __init__(self, faces: torch.Tensor, eps: float = 1e-6) -> None:
        super().__init__()
        self.register_buffer("quads", interior_edge_quads(faces), persistent=False)
        self.eps = eps

    def cosines(self, vertices: torch.Tensor) -> torch.Tensor:
        """``(B, E)`` cosines of the dihedral angles."""
        corners = torch.index_select(vertices, 1, self.quads.flatten()).view(vertices.shape[0], -1, 4, 3)
        v0, v1, a, b = corners.unbind(2)
        eps = self.eps
        edge = v1 - v0
        edge_sq = edge.pow(2).sum(-1)
        edge_len = (edge_sq + eps).sqrt()

        def perpendicular(p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            d = p - v0
            d_len = (d.pow(2).sum(-1) + eps).sqrt()
            dot = (d * edge).sum(-1)
            cos = dot / (edge_len * d_len + eps)
            return d - edge * (dot / (edge_sq + eps))[..., None], d_len * (1 - cos.pow(2) + eps).sqrt()

        (pa, la), (pb, lb) = perpendicular(a), perpendicular(b)
        return (pa * pb).sum(-1) / (la * lb + eps)

    def forward(self, vertices: torch.Tensor) -> torch.Tensor:
        return (self.cosines(vertices) + 1.0).pow(2).sum(1).mean()


def color_loss(rendered_rgb: torch.Tensor, target_rgb: torch.Tensor) -> torch.Tensor:
    """Mean absolute error between ``(N, 3, H, W)`` colours composited on black."""
    if rendered_rgb.shape != target_rgb.shape:
        raise ValueError(f"colour shapes differ: {tuple(rendered_rgb.shape)} vs {tuple(target_rgb.shape)}")
    return (rendered_rgb - target_rgb).abs().mean()
