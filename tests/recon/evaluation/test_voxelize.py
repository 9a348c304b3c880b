"""The protocol voxelizer on shapes with known answers."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import trimesh

from recon.evaluation.voxelize import voxelize, voxelize_meshes

BOX_FACES = np.array([[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
                      [3, 7, 6], [3, 6, 2], [0, 4, 7], [0, 7, 3], [1, 2, 6], [1, 6, 5]])


def box_vertices(lo, hi) -> np.ndarray:
    c = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]])
    return np.where(c == 1, hi, lo).astype(np.float32)


def test_axis_aligned_box_exact():
    lo, hi = np.array([-0.4, -0.2, 0.01]), np.array([0.1, 0.3, 0.45])  # no face on a lattice plane
    vox = voxelize(box_vertices(lo, hi), BOX_FACES)
    assert vox.shape == (1, 32, 32, 32) and vox.dtype == torch.bool
    # index space p = 31 v + 16; the solid spans voxels floor(p_lo)..floor(p_hi) per mesh axis
    a = np.floor(31 * lo + 16).astype(int)
    b = np.floor(31 * hi + 16).astype(int)
    grid = np.zeros((32, 32, 32), bool)  # axes (x, y, z)
    grid[a[0]:b[0] + 1, a[1]:b[1] + 1, a[2]:b[2] + 1] = True
    expected = grid.transpose(1, 0, 2)[..., ::-1]  # ground truth: (y, x, reversed z)
    assert np.array_equal(vox[0].numpy(), expected)
    # spelled out: gt[i, j, k] is mesh y = i, x = j, z = 31 - k
    ys, xs, ks = np.nonzero(vox[0].numpy())
    assert (ys.min(), ys.max()) == (a[1], b[1])
    assert (xs.min(), xs.max()) == (a[0], b[0])
    assert (31 - ks.max(), 31 - ks.min()) == (a[2], b[2])


def test_sphere_volume():
    r = 0.4
    s = trimesh.creation.icosphere(subdivisions=4, radius=r)
    vox = voxelize(s.vertices, s.faces)[0]
    n = int(vox.sum())
    rr = 31 * r  # radius in voxels
    ideal = 4 / 3 * math.pi * rr ** 3
    # the protocol marks every voxel the surface passes through: between the ball's
    # volume and the voxels touching the ball, within a few percent of the latter
    c = np.arange(32)
    lo = np.stack(np.meshgrid(c, c, c, indexing="ij"), -1).astype(float)
    nearest = np.clip(16.0, lo, lo + 1)
    touching = int((((nearest - 16.0) ** 2).sum(-1) <= rr ** 2).sum())
    assert ideal < n <= touching * 1.01
    assert abs(n - touching) / touching < 0.04
    # solid inside: the centre and everything well inside is filled
    centre = np.abs(lo + 0.5 - 16.0).max(-1) < rr * 0.5
    g = vox.numpy().transpose(1, 0, 2)[..., ::-1]  # back to (x, y, z)
    assert g[centre].all()


def test_open_mesh_stays_a_shell():
    faces = BOX_FACES[2:]  # no -z side: the flood fill gets in
    vox = voxelize(box_vertices([-0.3] * 3, [0.3] * 3), faces)[0]
    closed = voxelize(box_vertices([-0.3] * 3, [0.3] * 3), BOX_FACES)[0]
    assert vox.sum() < closed.sum()
    assert not vox[16, 16, 16] and closed[16, 16, 16]
    assert bool((vox & ~closed).sum() == 0)
    # a single flat square: one layer of voxels
    sq = np.array([[-0.3, -0.3, 0.1], [0.3, -0.3, 0.1], [0.3, 0.3, 0.1], [-0.3, 0.3, 0.1]], np.float32)
    flat = voxelize(sq, np.array([[0, 1, 2], [0, 2, 3]]))[0]
    zs = np.nonzero(flat.numpy())[2]
    assert len(set(zs.tolist())) == 1 and int(flat.sum()) == 20 * 20  # voxels 6..25 (p = 31 v + 16)
    assert zs[0] == 31 - 19  # z = 0.1 -> p = 19.1 -> voxel 19, reversed


def test_degenerate_and_vertex_only_marks():
    v = np.array([[0.0, 0.0, 0.0], [0.01, 0.0, 0.0], [0.02, 0.0, 0.0]], np.float32)  # zero-area face
    vox = voxelize(v, np.array([[0, 1, 2]]))[0]
    assert int(vox.sum()) == 1  # the vertices' voxel only


def test_batched_equals_single_and_inputs():
    s = trimesh.creation.icosphere(subdivisions=3, radius=0.45)
    v = torch.tensor(s.vertices, dtype=torch.float32)
    f = torch.tensor(s.faces)
    scales = torch.tensor([1.0, 0.6, 0.3]).view(3, 1, 1)
    offs = torch.tensor([[0.0, 0, 0], [0.1, -0.1, 0.05], [-0.2, 0.2, 0.1]]).view(3, 1, 3)
    batch = v * scales + offs
    out = voxelize(batch, f)
    assert out.shape == (3, 32, 32, 32)
    for i in range(3):
        assert torch.equal(out[i], voxelize(batch[i].numpy(), s.faces)[0])
    packed = voxelize_meshes([(batch[i], f) for i in range(3)])
    assert torch.equal(packed, out)
    with pytest.raises(ValueError, match="face indices out of range"):
        voxelize(v, f + 1000)


def test_marks_outside_the_grid_are_dropped():
    v = box_vertices([-0.9, -0.2, -0.2], [0.2, 0.2, 0.2])  # sticks out of the grid along -x
    vox = voxelize(v, BOX_FACES)[0]
    assert vox.shape == (32, 32, 32) and vox.any()
    g = vox.numpy()[..., ::-1].transpose(1, 0, 2)  # (x, y, z)
    assert not g[0].all()  # no wall invented at the grid border
