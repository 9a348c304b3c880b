"""The compiled NMR forward against an independent brute-force rasterizer and the reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from renderers.nmr import hard_rasterize, rasterize_maps
from renderers.reference import nmr_rasterize_reference, rasterize_maps_reference

from .conftest import random_screen_faces, random_textures


def cross2(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


def brute_force_face_index(
    faces: torch.Tensor, size: int, near=0.1, far=100.0, double_sided=True, counts: list | None = None
) -> np.ndarray:
    """Point-in-triangle by same-side tests of the cross products (b - a) x (p - a), depth by
    solving for the screen-space barycentrics with a 2x2 linear system; pixel by pixel.
    ``counts`` (if given) receives the number of faces covering each pixel."""
    fv = faces.double().numpy()
    batch, num_faces = fv.shape[:2]
    out = np.full((batch, size, size), -1)
    for b in range(batch):
        for r in range(size):
            py = (size - 1 - 2 * r) / size
            for c in range(size):
                px = (2 * c + 1 - size) / size
                best, best_z, covering = -1, np.inf, 0
                for f in range(num_faces):
                    p = fv[b, f]
                    if (p[:, 2] <= 0).any():
                        continue
                    a2 = cross2(p[1, :2] - p[0, :2], p[2, :2] - p[0, :2])
                    if abs(a2) <= 1e-10 or (not double_sided and a2 >= 0):
                        continue
                    sides = [cross2(p[(k + 1) % 3, :2] - p[k, :2], np.array([px, py]) - p[k, :2]) for k in range(3)]
                    if not (all(s >= 0 for s in sides) or all(s <= 0 for s in sides)):
                        continue
                    m = np.array([[p[1, 0] - p[0, 0], p[2, 0] - p[0, 0]], [p[1, 1] - p[0, 1], p[2, 1] - p[0, 1]]])
                    l1, l2 = np.linalg.solve(m, np.array([px - p[0, 0], py - p[0, 1]]))
                    w = np.clip(np.array([1 - l1 - l2, l1, l2]), 0, 1)
                    w /= w.sum()
                    z = 1 / (w / p[:, 2]).sum()
                    if near <= z <= far:
                        covering += 1
                        if z < best_z:
                            best, best_z = f, z
                out[b, r, c] = best
                if counts is not None:
                    counts.append(covering)
    return out


@pytest.mark.parametrize("double_sided", [True, False])
def test_face_index_matches_brute_force(double_sided):
    faces = random_screen_faces(batch=2, num_faces=40, dtype=torch.float64, seed=11, spread=1.0)
    maps = rasterize_maps(faces, 24, double_sided=double_sided)
    counts: list[int] = []
    expected = brute_force_face_index(faces, 24, double_sided=double_sided, counts=counts)
    assert (maps.face_index.numpy() == expected).all()
    assert sum(c >= 2 for c in counts) >= 10  # occlusion is exercised


def test_occlusion_nearest_face_wins():
    near = torch.tensor([[-0.8, -0.8, 2.0], [0.8, -0.8, 2.0], [0.0, 0.8, 2.0]], dtype=torch.float64)
    far = near.clone()
    far[:, 2] = 3.0
    for order in ((near, far), (far, near)):
        faces = torch.stack(order)[None]
        maps = rasterize_maps(faces, 16)
        winner = 0 if order[0] is near else 1
        covered = maps.face_index[0] >= 0
        assert covered.sum() > 50 and (maps.face_index[0][covered] == winner).all()
        torch.testing.assert_close(maps.depth[0][covered], torch.full_like(maps.depth[0][covered], 2.0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_supersampled_silhouette_matches_brute_force(dtype):
    import renderers

    faces = random_screen_faces(batch=2, num_faces=20, dtype=dtype, seed=13)
    renderer = renderers.create("nmr", image_size=12, silhouette_only=True)
    image = renderer.rasterize(faces, None, "surface")
    covered = torch.from_numpy(brute_force_face_index(faces, 24) >= 0).to(dtype)
    expected = F.avg_pool2d(covered[:, None], 2)[:, 0]
    assert torch.equal(image[:, 3], expected)
    assert torch.count_nonzero(image[:, :3]) == 0
    assert ((expected > 0) & (expected < 1)).any()  # partial coverage is exercised


@pytest.mark.parametrize("kind", ["vertex", "surface", "volume", None])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_matches_reference(kind, dtype):
    faces = random_screen_faces(batch=2, num_faces=30, dtype=dtype, seed=17)
    if kind == "volume":
        textures = torch.rand(2, 30, 27, 3, generator=torch.Generator().manual_seed(4)).to(dtype)
    else:
        textures = None if kind is None else random_textures(faces, kind, res=3)
    ours = hard_rasterize(faces, textures, 20, kind or "surface", background=(0.2, 0.3, 0.4))
    reference = nmr_rasterize_reference(faces, textures, 20, kind or "surface", background=(0.2, 0.3, 0.4))
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(ours, reference.detach(), rtol=0, atol=tol)
    if kind is not None:
        empty = ours[:, 3] == 0
        torch.testing.assert_close(ours[:, 2][empty], torch.full_like(ours[:, 2][empty], 0.4))


def test_maps_match_reference_and_perspective_correction():
    faces = random_screen_faces(batch=2, num_faces=30, dtype=torch.float64, seed=19)
    maps = rasterize_maps(faces, 20)
    index, weights, depth = rasterize_maps_reference(faces, 20)
    assert torch.equal(maps.face_index, index)
    torch.testing.assert_close(maps.weights, weights, rtol=0, atol=1e-12)
    torch.testing.assert_close(maps.depth, depth, rtol=0, atol=1e-12)
    covered = maps.face_index >= 0
    assert (maps.depth[~covered] == 100.0).all() and (maps.weights[~covered] == 0).all()
    torch.testing.assert_close(maps.weights[covered].sum(-1), torch.ones(int(covered.sum()), dtype=torch.float64))
    # Perspective-correct: interpolating 1/z with screen weights, or z with perspective weights.
    b, r, c = covered.nonzero()[0]
    f = faces[b, maps.face_index[b, r, c]]
    torch.testing.assert_close((maps.weights[b, r, c] * f[:, 2]).sum(), maps.depth[b, r, c])


def test_near_far_clip():
    faces = torch.tensor([[[[-0.9, -0.9, 5.0], [0.9, -0.9, 5.0], [0.0, 0.9, 5.0]]]], dtype=torch.float64)
    assert (rasterize_maps(faces, 8, near=0.1, far=10.0).face_index >= 0).any()
    assert (rasterize_maps(faces, 8, near=0.1, far=4.0).face_index < 0).all()
    assert (rasterize_maps(faces, 8, near=6.0, far=10.0).face_index < 0).all()


def test_degenerate_behind_camera_and_off_screen_faces_draw_nothing():
    faces = random_screen_faces(batch=1, num_faces=6, dtype=torch.float64, seed=21)
    faces[0, 5, 0, 2] = -1.0  # a vertex behind the camera
    maps = rasterize_maps(faces, 32)
    for f in (1, 2, 3, 4, 5):  # collinear, coincident, off-screen, two coincident corners, behind
        assert not (maps.face_index == f).any()


def test_sidedness():
    ccw = torch.tensor([[[[-0.9, -0.9, 5.0], [0.9, -0.9, 5.0], [0.0, 0.9, 5.0]]]])  # positive area: a back face
    cw = ccw[:, :, [0, 2, 1]]
    for faces, front in ((ccw, False), (cw, True)):
        assert (rasterize_maps(faces, 8).face_index >= 0).any()
        assert (rasterize_maps(faces, 8, double_sided=False).face_index >= 0).any() == front
