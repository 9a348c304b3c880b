"""Input value checks read back once per render call (renderers.checks.HostChecks).

A host read is a device-to-host copy: ``Tensor.item()`` / ``bool()`` (the ``_local_scalar_dense``
op, also when C++ calls it) or ``Tensor.tolist()``. On a GPU each is a sync. A render call's
value checks (finite vertices, eye, textures and lights, face index range, non-negative
intensities, a non-zero light direction) must cost one read in all, and the compiled gathers
must not check the indices again, forward or backward. Counted on the CPU, where the same calls
are made.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import renderers
from renderers.base import Mesh
from renderers.checks import HostChecks
from renderers.gather import project_faces


class HostReads(TorchDispatchMode):
    """Counts ``_local_scalar_dense`` (item, bool) and ``Tensor.tolist`` calls while active."""

    def __init__(self, monkeypatch):
        super().__init__()
        self.count = 0
        tolist = torch.Tensor.tolist

        def counted_tolist(tensor):
            self.count += 1
            return tolist(tensor)

        monkeypatch.setattr(torch.Tensor, "tolist", counted_tolist)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.count += 1
        return func(*args, **(kwargs or {}))


def _scene():
    import trimesh

    mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.3)
    vertices = torch.tensor(mesh.vertices, dtype=torch.float32)[None].repeat(2, 1, 1)
    faces = torch.tensor(mesh.faces, dtype=torch.int64)
    eye = renderers.points_from_angles(2.732, 30.0, 0.0).expand(2, 3)
    return vertices, faces, eye


def _reads(monkeypatch, fn) -> int:
    with HostReads(monkeypatch) as reads:
        fn()
    return reads.count


@pytest.mark.parametrize("name", renderers.available())
@pytest.mark.parametrize("silhouette_only", [True, False], ids=["silhouette", "colour"])
def test_a_render_call_reads_its_checks_back_once(monkeypatch, name, silhouette_only):
    vertices, faces, eye = _scene()
    renderer = renderers.create(name, image_size=16, silhouette_only=silhouette_only)
    textures = None if silhouette_only else torch.rand(2, vertices.shape[1], 3)
    renderer(vertices, faces, eye, textures)  # caches the face list's edge topology (edge renderers)
    vertices = vertices.clone().requires_grad_(True)
    images = []
    forward = _reads(monkeypatch, lambda: images.append(renderer(vertices, faces, eye, textures, seed=0)))
    backward = _reads(monkeypatch, lambda: images[0].sum().backward())
    # The rasterization step alone (whatever host reads the renderer's own algorithm makes, e.g.
    # edge sampling's sample counts), on the same screen-space faces and colours.
    face_screen = project_faces(vertices.detach(), eye, faces, renderer.options.viewing_angle).requires_grad_(True)
    colours = None if silhouette_only else renderers.gather_faces(textures, faces).requires_grad_(True)
    mesh = Mesh(faces[None].expand(2, -1, -1), 0)
    raster = []
    rasterize = _reads(monkeypatch, lambda: raster.append(renderer.rasterize(face_screen, colours, "vertex", mesh)))
    rasterize_backward = _reads(monkeypatch, lambda: raster[0].sum().backward())
    assert forward == rasterize + 1, (forward, rasterize)
    assert backward == rasterize_backward, (backward, rasterize_backward)


def test_the_gathers_skip_the_index_check_only_when_told(monkeypatch):
    vertices, faces, eye = _scene()
    assert _reads(monkeypatch, lambda: project_faces(vertices, eye, faces)) == 2  # aminmax: low and high
    assert _reads(monkeypatch, lambda: project_faces(vertices, eye, faces, indices_checked=True)) == 0
    with pytest.raises(RuntimeError, match=r"face indices must be in \[0, 161\]"):
        project_faces(vertices, eye, faces + 1)


def test_checks_resolve_in_one_read_and_raise_the_first_failure_in_order(monkeypatch):
    checks = HostChecks()
    seen = []
    checks.add([torch.tensor(1.0)], lambda value: seen.append(value))
    checks.add([torch.tensor(-1), torch.tensor(7)], lambda low, high: ValueError(f"range [{int(low)}, {int(high)}]"))
    checks.add([torch.tensor(False)], lambda ok: TypeError("second failure"))
    with pytest.raises(ValueError, match=r"range \[-1, 7\]"):
        _reads(monkeypatch, checks.resolve)
    assert seen == [1.0]
    checks.add([torch.isfinite(torch.ones(3)).all()], lambda ok: None if ok else ValueError("never"))
    assert _reads(monkeypatch, checks.resolve) == 1
    assert _reads(monkeypatch, HostChecks().resolve) == 0  # nothing to read


@pytest.mark.parametrize(("broken", "error", "message"), [
    ("vertices", ValueError, "vertices contain NaN"),
    ("eye", ValueError, "eye contains NaN"),
    ("faces", IndexError, "face indices must be in"),
    ("textures", ValueError, "textures contain NaN"),
    ("lights", ValueError, "lights.directional_intensity must be non-negative"),
])
def test_each_deferred_check_still_names_its_problem(broken, error, message):
    vertices, faces, eye = _scene()
    textures = torch.rand(2, vertices.shape[1], 3)
    lights = renderers.Lighting()
    if broken == "vertices":
        vertices[0, 3, 1] = float("nan")
    elif broken == "eye":
        eye = eye.clone()
        eye[1, 0] = float("inf")
    elif broken == "faces":
        faces = faces.clone()
        faces[5, 2] = vertices.shape[1]
    elif broken == "textures":
        textures[1, 0, 0] = float("nan")
    else:
        lights = renderers.Lighting(directional_intensity=torch.tensor([0.5, -0.1]))
    renderer = renderers.create("softras", image_size=8)
    with pytest.raises(error, match=message):
        renderer(vertices, faces, eye, textures, lights=lights)
