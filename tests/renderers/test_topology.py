"""Edge tables: every edge once with its faces, borders, non-manifold edges, batches, caching."""

from __future__ import annotations

import collections

import pytest
import torch
import trimesh

from renderers.topology import edge_table, soup_edge_table


def _check_slots(faces: torch.Tensor, table: torch.Tensor) -> None:
    for fa, sa0, sa1, fb, sb0, sb1 in table.tolist():
        assert sa0 != sa1 and {sa0, sa1} <= {0, 1, 2}
        if fb >= 0:
            assert faces[fb, sb0] == faces[fa, sa0] and faces[fb, sb1] == faces[fa, sa1]
        else:
            assert sb0 == sb1 == -1


def _undirected(faces: torch.Tensor) -> collections.Counter:
    count = collections.Counter()
    for face in faces.tolist():
        for k in range(3):
            count[tuple(sorted((face[k], face[(k + 1) % 3])))] += 1
    return count


def test_closed_mesh_has_every_edge_once_with_two_faces():
    mesh = trimesh.creation.icosphere(subdivisions=2)
    faces = torch.tensor(mesh.faces)
    table = edge_table(faces)
    assert table.dtype == torch.int32 and table.shape == (len(mesh.edges_unique), 6) == (3 * len(faces) // 2, 6)
    assert (table[:, 3] >= 0).all()
    _check_slots(faces, table)
    uses = torch.bincount(table[:, [0, 3]].reshape(-1).long(), minlength=len(faces))
    assert (uses == 3).all()  # each face appears once per edge of its own


def test_open_and_non_manifold_edges_are_border_rows():
    mesh = trimesh.creation.icosphere(subdivisions=1)
    faces = torch.tensor(mesh.faces)[:-7]  # a hole
    fan = torch.tensor([[0, 1, 100], [1, 0, 101], [0, 1, 102]])  # one edge shared by three faces
    faces = torch.cat((faces, fan))
    table = edge_table(faces)
    _check_slots(faces, table)
    counts = _undirected(faces)
    borders = sum(1 for c in counts.values() if c == 1)
    shared3 = [edge for edge, c in counts.items() if c >= 3]
    assert shared3 == [(0, 1)]
    assert int((table[:, 3] < 0).sum()) == borders + 3
    assert table.shape[0] == len(counts) + 2  # the three-face edge has three rows
    assert (table[:, 3] >= 0).sum() == sum(1 for c in counts.values() if c == 2)


def test_batched_face_lists_are_padded_and_expanded_ones_shared():
    mesh = trimesh.creation.icosphere(subdivisions=1)
    faces = torch.tensor(mesh.faces)
    shared = edge_table(faces[None].expand(3, -1, -1))
    assert torch.equal(shared, edge_table(faces))
    per_image = edge_table(torch.stack((faces, faces.flip(0)))[:, :70])
    assert per_image.shape[0] == 2 and per_image.shape[2] == 6
    for b in range(2):
        rows = per_image[b][per_image[b, :, 0] >= 0]
        assert torch.equal(rows, edge_table(torch.stack((faces, faces.flip(0)))[b, :70].clone()))
        assert (per_image[b][per_image[b, :, 0] < 0] == -1).all()


def test_cached_per_face_list_and_rebuilt_after_changes():
    faces = torch.tensor(trimesh.creation.icosphere(subdivisions=1).faces)
    first = edge_table(faces)
    assert edge_table(faces) is first
    faces[0] = faces[0].flip(0)  # in place: a new version of the same storage
    second = edge_table(faces)
    assert second is not first
    _check_slots(faces, second)
    assert edge_table(faces.clone()).data_ptr() != first.data_ptr()


def test_soup_table_and_bad_input():
    table = soup_edge_table(2)
    assert table.tolist() == [[0, 0, 1, -1, -1, -1], [0, 1, 2, -1, -1, -1], [0, 2, 0, -1, -1, -1],
                              [1, 0, 1, -1, -1, -1], [1, 1, 2, -1, -1, -1], [1, 2, 0, -1, -1, -1]]
    assert edge_table(torch.zeros(0, 3, dtype=torch.int64)).shape == (0, 6)
    with pytest.raises(TypeError, match="integer tensor"):
        edge_table(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"shape \(F, 3\)"):
        edge_table(torch.zeros(2, 4, dtype=torch.int64))
