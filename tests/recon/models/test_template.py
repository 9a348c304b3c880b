import torch

from recon.models.template import icosphere, interior_edge_quads, mesh_edges


def test_icosphere_counts_radius_and_outward_winding():
    vertices, faces = icosphere(3)
    assert vertices.shape == (642, 3) and faces.shape == (1280, 3) and faces.dtype == torch.int64
    assert torch.allclose(vertices.norm(dim=1), torch.ones(642))
    tri = vertices[faces]
    normal = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=1)
    assert ((normal * tri.mean(1)).sum(1) > 0).all()


def test_closed_manifold_topology():
    _, faces = icosphere(3)
    edges = mesh_edges(faces)
    assert edges.shape == (1920, 2)  # Euler: V - E + F = 2
    quads = interior_edge_quads(faces)
    assert quads.shape == (1920, 4)
    for v0, v1, a, b in quads[:50].tolist():
        rows = [set(f) for f in faces.tolist() if {v0, v1} <= set(f)]
        assert len(rows) == 2 and {a, b} == {next(iter(r - {v0, v1})) for r in rows}


def test_open_mesh_has_no_quad_for_boundary_edges():
    faces = torch.tensor([[0, 1, 2], [2, 1, 3]])
    quads = interior_edge_quads(faces)
    assert quads.shape == (1, 4) and quads[0, :2].tolist() == [1, 2] and set(quads[0, 2:].tolist()) == {0, 3}
