"""The voxel grid's axes line up with the dataset cameras: an asymmetric mesh and its
voxels (converted back from the ground-truth axis order) give the same silhouette in
view 0 of the dataset camera, and the wrong axis orders do not."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from recon.data.cameras import view_eyes
from recon.data.mesh import ColoredMesh
from recon.data.procedural import box
from recon.evaluation.voxelize import voxelize

renderers = pytest.importorskip("renderers")


def asymmetric_mesh() -> ColoredMesh:
    grey = [0.5, 0.5, 0.5]
    return ColoredMesh.concatenate([
        box([0.1, -0.4, 0.0], [0.7, 0.15, 0.3], grey),    # long bar towards +x, low
        box([-0.3, 0.0, 0.3], [0.2, 0.9, 0.2], grey),     # tall post at -x, +z (back)
        box([-0.3, 0.35, -0.2], [0.25, 0.1, 0.6], grey),  # arm towards -z, high
    ])


def voxel_cubes(grid_xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mesh of the solid voxels of a grid indexed (mesh x, mesh y, mesh z)."""
    verts, faces = [], []
    for n, (x, y, z) in enumerate(np.argwhere(grid_xyz)):
        lo = (np.array([x, y, z]) - 16.0) / 31.0  # index space p = 31 v + 16
        c = box(lo + 0.5 / 31, [1 / 31] * 3, [1, 1, 1])
        verts.append(c.vertices)
        faces.append(c.faces + 8 * n)
    return np.concatenate(verts), np.concatenate(faces)


def silhouette(r, v: np.ndarray, f: np.ndarray) -> torch.Tensor:
    out = r(torch.tensor(v, dtype=torch.float32)[None], torch.tensor(f, dtype=torch.long),
            view_eyes()[:1])
    return out[0, 3] > 0.5


def iou(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a & b).sum()) / float((a | b).sum())


def test_voxels_line_up_with_view0_silhouette():
    r = renderers.create("softras", image_size=64, viewing_angle=15.0, sigma=1e-6,
                         aggr_alpha="hard", aggr_rgb="hard")
    m = asymmetric_mesh()
    gt = voxelize(m.vertices, m.faces)[0].numpy()  # ground-truth order (y, x, reversed z)
    ref = silhouette(r, m.vertices, m.faces)
    right = gt[..., ::-1].transpose(1, 0, 2)       # back to (x, y, z)
    wrong = {
        "no re-ordering": gt,
        "no z reversal": gt.transpose(1, 0, 2),
        "no transpose": gt[..., ::-1],
        "mirrored x": gt[..., ::-1].transpose(1, 0, 2)[::-1],
    }
    good = iou(ref, silhouette(r, *voxel_cubes(right)))
    assert good > 0.8, good
    for name, g in wrong.items():
        bad = iou(ref, silhouette(r, *voxel_cubes(g)))
        assert bad < good - 0.15, (name, bad, good)
