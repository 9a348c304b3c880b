"""The OpenDR forward: the boundary mask against an independent brute force, the overdraw, and
the exact rasterizer everywhere else."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import renderers
from renderers.camera import project
from renderers.gather import project_faces
from renderers.nmr import hard_rasterize, rasterize_maps
from renderers.opendr import opendr_maps, opendr_rasterize
from renderers.reference import opendr_maps_reference, opendr_rasterize_reference
from renderers.scenes import bumpy_sphere
from renderers.topology import edge_table

from .conftest import random_screen_faces, random_textures


def open_bowl(seed: int = 1):
    vertices, faces = bumpy_sphere(subdivisions=2, seed=seed)
    keep = vertices[faces].mean(dim=1)[:, 1] < 0.12  # cut the top off: border edges
    return vertices, faces[keep]


def two_spheres():
    front, faces_front = bumpy_sphere(subdivisions=2, radius=0.3, seed=2)
    back, faces_back = bumpy_sphere(subdivisions=2, radius=0.3, seed=3)
    vertices = torch.cat((front + torch.tensor([0.1, 0.05, -0.5], dtype=torch.float64),
                          back + torch.tensor([-0.25, -0.1, 0.5], dtype=torch.float64)))
    return vertices, torch.cat((faces_front, faces_back + len(front)))


SCENES = {"sphere": bumpy_sphere, "bowl": open_bowl, "occluded": two_spheres}


def scene(name: str, azimuth: float = 20.0, elevation: float = 30.0):
    vertices, faces = SCENES[name]()
    eye = renderers.points_from_angles(2.732, elevation, azimuth).to(torch.float64)
    return vertices, faces, eye


def brute_force_mask(vertices, faces, eye, size, double_sided=True, near=0.1, far=100.0, angle=15.0):
    """The boundary mask M written independently of the kernels: facing from 3D normals and view
    rays (OpenDR's test), the z-buffer by point-in-triangle tests and plane fits of 1/z, line
    pixels as the pixel centres nearest the edge on each column (row) the edge spans.
    Returns (mask (S, S) bool, the number of line points rejected by the depth test)."""
    v = vertices.numpy()
    f = faces.numpy()
    e = eye.numpy()
    screen = project(vertices[None], eye[None], angle)[0].numpy()
    normals = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    rays = v[f].mean(axis=1) - e
    facing = np.einsum("ij,ij->i", normals, rays)  # < 0: front
    sx, sy, sz = screen[f][..., 0], screen[f][..., 1], screen[f][..., 2]
    area = (sx[:, 1] - sx[:, 0]) * (sy[:, 2] - sy[:, 0]) - (sx[:, 2] - sx[:, 0]) * (sy[:, 1] - sy[:, 0])
    drawable = (sz > 0).all(axis=1) & (np.abs(area) > 1e-10) & (double_sided | (facing < 0))
    planes = [np.linalg.solve(np.stack((sx[i], sy[i], np.ones(3)), axis=1), 1.0 / sz[i]) for i in range(len(f))]
    centre = lambda i: (2 * i + 1 - size) / size  # noqa: E731  x of column i; y of row i is -centre(i)

    # z-buffer: the face with the largest 1/z covering each pixel centre
    zface = -np.ones((size, size), dtype=int)
    zq = np.zeros((size, size))
    for i in np.nonzero(drawable)[0]:
        for r in range(size):
            for c in range(size):
                p = np.array([centre(c), -centre(r)])
                sides = [(sx[i, (k + 1) % 3] - sx[i, k]) * (p[1] - sy[i, k]) - (sy[i, (k + 1) % 3] - sy[i, k]) * (p[0] - sx[i, k])
                         for k in range(3)]
                if not (all(s >= 0 for s in sides) or all(s <= 0 for s in sides)):
                    continue
                q = planes[i] @ np.array([p[0], p[1], 1.0])
                if near <= 1 / q <= far and (zface[r, c] < 0 or q > zq[r, c]):
                    zface[r, c], zq[r, c] = i, q

    # boundary edges
    edge_faces: dict[tuple[int, int], list[int]] = {}
    for i, face in enumerate(f):
        for k in range(3):
            edge_faces.setdefault(tuple(sorted((face[k], face[(k + 1) % 3]))), []).append(i)
    mask = np.zeros((size, size), dtype=bool)
    rejected = 0
    for (va, vb), fs in edge_faces.items():
        drawn = [i for i in fs if drawable[i]]
        if not drawn:
            continue
        if len(fs) == 2 and len(drawn) == 2 and np.sign(facing[fs[0]]) == np.sign(facing[fs[1]]):
            continue
        # the endpoints in the order the face that draws them lists them
        face = f[drawn[0]]
        ka = list(face).index(va)
        a, b = (va, vb) if face[(ka + 1) % 3] == vb else (vb, va)
        (ax, ay, az), (bx, by, bz) = screen[a], screen[b]
        x_major = abs(bx - ax) >= abs(by - ay)
        for m in range(size):
            if x_major:
                xm = centre(m)
                if not min(ax, bx) <= xm <= max(ax, bx):
                    continue
                t = (xm - ax) / (bx - ax)
                v_cross = (size - 1 - (ay + t * (by - ay)) * size) / 2  # row coordinate of the crossing
            else:
                ym = -centre(m)
                if not min(ay, by) <= ym <= max(ay, by):
                    continue
                t = (ym - ay) / (by - ay)
                v_cross = ((ax + t * (bx - ax)) * size + size - 1) / 2
            for across in range(size):
                d = across - v_cross
                if not (abs(d) < 0.5 or d == 0.5):  # the nearest centre, ties to the larger index
                    continue
                r, c = (across, m) if x_major else (m, across)
                q = (1 - t) / az + t / bz
                if not near <= 1 / q <= far:
                    continue
                g = zface[r, c]
                if g >= 0:
                    slope = max(abs(planes[g][0]), abs(planes[g][1])) * 2 / size
                    if q < zq[r, c] - (10 * slope + 1e-6 * zq[r, c]):
                        rejected += 1
                        continue
                mask[r, c] = True
    return mask, rejected


@pytest.mark.parametrize("name", list(SCENES))
@pytest.mark.parametrize("double_sided", [True, False])
def test_mask_matches_brute_force(name, double_sided):
    vertices, faces, eye = scene(name)
    size = 40
    screen = project_faces(vertices[None], eye[None], faces, 15.0)
    maps = opendr_maps(screen, size, edges=edge_table(faces), double_sided=double_sided)
    expected, rejected = brute_force_mask(vertices, faces, eye, size, double_sided)
    assert expected.sum() > 40
    assert (maps.mask[0].numpy() == expected).all()
    if name == "occluded":
        assert rejected > 5  # the back sphere's silhouette is hidden behind the front one


def test_mask_of_unconnected_faces_matches_the_reference():
    faces = random_screen_faces(batch=2, num_faces=40, dtype=torch.float64, seed=5, spread=1.0)
    for double_sided in (True, False):
        maps = opendr_maps(faces, 32, double_sided=double_sided)
        index, weights, depth, mask = opendr_maps_reference(faces, 32, double_sided=double_sided)
        assert torch.equal(maps.mask, mask) and torch.equal(maps.face_index, index)
        torch.testing.assert_close(maps.weights, weights, rtol=0, atol=1e-12)
        torch.testing.assert_close(maps.depth, depth, rtol=0, atol=1e-12)


def test_convex_mesh_mask_is_its_silhouette_contour():
    vertices, faces = bumpy_sphere(bumps=0.0)
    eye = renderers.points_from_angles(2.732, 30.0, 20.0).to(torch.float64)
    screen = project_faces(vertices[None], eye[None], faces, 15.0)
    size = 48
    maps = opendr_maps(screen, size, edges=edge_table(faces))
    plain = rasterize_maps(screen, size).face_index[0] >= 0
    mask = maps.mask[0]
    # every pixel of M touches the silhouette's outline: it or a 4-neighbour is outside the filled shape
    padded = torch.nn.functional.pad(plain[None, None].float(), (1, 1, 1, 1))[0, 0].bool()
    outside_near = (~padded[:-2, 1:-1]) | (~padded[2:, 1:-1]) | (~padded[1:-1, :-2]) | (~padded[1:-1, 2:]) | ~plain
    assert mask.sum() > 50 and outside_near[mask].all()
    # and deep inside there is no M: interior edges are not boundary edges
    eroded = plain.clone()
    for _ in range(3):
        p = torch.nn.functional.pad(eroded[None, None].float(), (1, 1, 1, 1))[0, 0].bool()
        eroded = eroded & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    assert eroded.sum() > 100 and not mask[eroded].any()


@pytest.mark.parametrize("kind", [None, "vertex", "surface", "volume"])
def test_without_overdraw_equals_the_exact_rasterizer(kind):
    faces = random_screen_faces(batch=2, num_faces=40, dtype=torch.float64, seed=7)
    textures = None if kind is None else (
        torch.rand(2, 40, 8, 3, dtype=torch.float64) if kind == "volume" else random_textures(faces, kind, res=3))
    options = dict(double_sided=False, background=(0.2, 0.3, 0.4))
    ours = opendr_rasterize(faces, textures, 24, kind or "surface", overdraw=False, **options)
    exact = hard_rasterize(faces, textures, 24, kind or "surface", **options)
    assert torch.equal(ours, exact)
    maps, plain = opendr_maps(faces, 24, overdraw=False, double_sided=False), rasterize_maps(faces, 24, double_sided=False)
    assert not maps.mask.any()
    assert torch.equal(maps.face_index, plain.face_index) and torch.equal(maps.weights, plain.weights)
    assert torch.equal(maps.depth, plain.depth)


@pytest.mark.parametrize("name", ["sphere", "occluded"])
def test_overdraw_changes_only_the_mask(name):
    vertices, faces, eye = scene(name)
    screen = project_faces(vertices[None], eye[None], faces, 15.0)
    textures = random_textures(screen, "surface", res=2)
    size = 40
    edges = edge_table(faces)
    ours = opendr_rasterize(screen, textures, size, "surface", edges=edges)
    exact = hard_rasterize(screen, textures, size, "surface")
    maps = opendr_maps(screen, size, edges=edges)
    plain = rasterize_maps(screen, size)
    off = ~maps.mask[0]
    assert torch.equal(ours[0][:, off], exact[0][:, off])
    assert torch.equal(maps.face_index[0][off], plain.face_index[0][off])
    on = maps.mask[0]
    assert (ours[0, 3][on] == 1).all() and (maps.face_index[0][on] >= 0).all()
    assert not torch.equal(ours[0][:, on], exact[0][:, on])  # M shows the owners' colours at the edge points
    # on M the barycentrics are those of an edge point: one weight 0, the others summing to 1
    w = maps.weights[0][on]
    assert ((w == 0).sum(dim=1) >= 1).all()
    torch.testing.assert_close(w.sum(dim=1), torch.ones(len(w), dtype=w.dtype))


def test_mask_pixels_show_the_owner_colour_at_the_edge_point():
    """Flat per-face colours: every pixel of M shows the colour of the face it belongs to."""
    vertices, faces, eye = scene("occluded")
    screen = project_faces(vertices[None], eye[None], faces, 15.0)
    colours = torch.rand(1, len(faces), 1, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    edges = edge_table(faces)
    image = opendr_rasterize(screen, colours, 40, "surface", edges=edges)
    maps = opendr_maps(screen, 40, edges=edges)
    on = maps.mask[0]
    owners = maps.face_index[0][on]
    torch.testing.assert_close(image[0, :3][:, on], colours[0, owners, 0].T)


@pytest.mark.parametrize("kind", [None, "vertex", "surface", "volume"])
def test_forward_matches_reference_on_meshes(kind):
    vertices, faces, eye = scene("bowl", azimuth=70.0, elevation=-20.0)
    screen = project_faces(vertices[None], eye[None], faces, 15.0)
    if kind == "volume":
        textures = torch.rand(1, len(faces), 27, 3, dtype=torch.float64)
    else:
        textures = None if kind is None else random_textures(screen, kind, res=3)
    edges = edge_table(faces)
    ours = opendr_rasterize(screen, textures, 32, kind or "surface", edges=edges, background=(0.5, 0.1, 0.9))
    reference = opendr_rasterize_reference(screen, textures, 32, kind or "surface", edges=edges,
                                           background=(0.5, 0.1, 0.9))
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-12)


def test_faces_behind_the_camera_and_degenerate_ones_draw_no_boundary():
    faces = random_screen_faces(batch=1, num_faces=12, dtype=torch.float64, seed=9)
    faces[:, 6, 0, 2] = -1.0  # a vertex behind the camera
    faces[:, 7, 1, 0] = math.inf
    maps = opendr_maps(faces, 32)
    reference = opendr_maps_reference(faces, 32)
    assert torch.equal(maps.mask, reference[3])
    for f in (1, 2, 6, 7):  # collinear, coincident, behind the camera, infinite: never drawn
        assert not (maps.face_index == f).any()
