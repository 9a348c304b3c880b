import torch

from recon.losses import FlattenLoss, LaplacianLoss, color_loss, silhouette_iou_loss, target_color_on_black
from recon.models.template import icosphere, mesh_edges


def test_silhouette_iou_loss_values():
    a = torch.zeros(2, 8, 8)
    a[:, :4] = 1
    b = torch.zeros(2, 8, 8)
    b[:, 4:] = 1
    assert silhouette_iou_loss(a, a).item() < 1e-6
    assert abs(silhouette_iou_loss(a, b).item() - 1.0) < 1e-6
    half = torch.zeros(2, 8, 8)
    half[:, :2] = 1
    assert abs(silhouette_iou_loss(half, a).item() - 0.5) < 1e-6


def test_laplacian_matches_a_loop():
    v, f = icosphere(2)
    verts = v[None] + 0.1 * torch.randn(2, *v.shape)
    neighbours = {i: set() for i in range(len(v))}
    for a, b in mesh_edges(f).tolist():
        neighbours[a].add(b)
        neighbours[b].add(a)
    expected = 0.0
    for m in range(2):
        for i, nb in neighbours.items():
            expected += (verts[m, i] - verts[m, sorted(nb)].mean(0)).pow(2).sum()
    assert torch.allclose(LaplacianLoss(f, len(v))(verts), expected / 2, rtol=1e-5)


def test_flatten_cosine_is_minus_the_normals_dot_product():
    v, f = icosphere(2)
    verts = (v + 0.05 * torch.randn_like(v))[None].double()
    loss = FlattenLoss(f, eps=1e-14).double()
    quads = loss.quads
    cos = loss.cosines(verts)[0]
    tri = verts[0][f]
    normals = torch.nn.functional.normalize(torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=1), dim=1)
    face_of = {}
    for i, face in enumerate(f.tolist()):
        for k in range(3):
            face_of[(min(face[k], face[(k + 1) % 3]), max(face[k], face[(k + 1) % 3]), face[(k + 2) % 3])] = i
    for e, (v0, v1, a, b) in enumerate(quads.tolist()[:200]):
        n1, n2 = normals[face_of[(v0, v1, a)]], normals[face_of[(v0, v1, b)]]
        assert abs(cos[e].item() + float(n1 @ n2)) < 1e-6


def test_flatten_is_zero_for_a_flat_sheet_and_positive_when_folded():
    verts = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]]])
    faces = torch.tensor([[0, 1, 2], [2, 1, 3]])
    loss = FlattenLoss(faces)
    assert loss(verts).item() < 1e-6
    folded = verts.clone()
    folded[0, 3, 2] = 1.0
    assert loss(folded).item() > 0.1


def test_colour_target_and_loss():
    shaded, alpha = torch.rand(1, 3, 4, 4), torch.rand(1, 1, 4, 4)
    stored = torch.cat([alpha * (1 - shaded), alpha], 1)  # the dataset convention
    assert torch.allclose(target_color_on_black(stored), alpha * shaded, atol=1e-6)
    assert color_loss(shaded, shaded).item() == 0.0
