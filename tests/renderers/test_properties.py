"""Property-based tests (hypothesis) over random meshes, cameras, textures, lights and options for
every registered renderer: no crash, images finite and in range, gradients finite
(:func:`tests.renderers.hostile.check_render`).

Vertices mix ordinary coordinates with hostile ones (0, 1e30, -1e30, 1e-30, points on or
behind the camera plane, duplicates); face lists repeat indices (degenerate faces) and may be
empty; cameras come from any direction including straight above and below and as close as
0.05 to the target; options span their valid ranges (``far = inf`` for the z-buffer renderers).
The hostile cases are also pinned one by one in ``test_hostile_inputs.py``.

The runs are derandomized (the same cases every run, so CI is reproducible). The default run
tries ``DEFAULT_EXAMPLES`` cases per renderer; ``-m slow`` tries ``SLOW_EXAMPLES`` more per
renderer with another derandomization seed. Hypothesis (6.131+) also draws about 5 % of its
values from the literals in the source of every local module imported so far, so the same
derandomized test would try different cases after other tests imported more of the project (a
real float32 overflow in the edge backward showed up only in the full suite's order); the
module fixture below gives it no local constants, so the cases do not depend on what ran before.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import renderers
from tests.renderers.hostile import check_render

DEFAULT_EXAMPLES = 260  # x 4 renderers > 1,000 cases
SLOW_EXAMPLES = 2600  # x 4 renderers > 10,000 cases

HOSTILE_COORDINATES = [0.0, 1e30, -1e30, 1e-30, -1e-30, 2.732, -2.732, 40.0, -3.0]


@pytest.fixture(autouse=True, scope="module")
def _no_local_constants():
    """Hypothesis's draws without the literals of the imported local modules (an internal hook:
    if a future Hypothesis renames it, the cases may again depend on the import order)."""
    try:
        from hypothesis.internal.conjecture.providers import Constants, HypothesisProvider
    except ImportError:
        yield
        return
    if not hasattr(HypothesisProvider, "_local_constants"):
        yield
        return
    empty = Constants()
    original = HypothesisProvider.__dict__["_local_constants"]
    HypothesisProvider._local_constants = property(lambda self: empty)
    try:
        yield
    finally:
        HypothesisProvider._local_constants = original


def coordinate() -> st.SearchStrategy[float]:
    ordinary = st.floats(min_value=-1.5, max_value=1.5, allow_nan=False, width=32)
    return st.one_of(ordinary, ordinary, ordinary, ordinary, st.sampled_from(HOSTILE_COORDINATES))


def unit_float() -> st.SearchStrategy[float]:
    return st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(min_value=math.log10(low), max_value=math.log10(high)).map(lambda e: 10.0 ** e)


def renderer_options(name: str) -> st.SearchStrategy[dict]:
    """Valid options of renderer ``name`` over their ranges."""
    common = {
        "image_size": st.one_of(st.sampled_from([8, 12, 16]), st.integers(1, 16)),
        "viewing_angle": st.one_of(st.sampled_from([15.0, 30.0]), st.floats(1.0, 80.0)),
        "background": st.tuples(unit_float(), unit_float(), unit_float()),
        "light_intensity_ambient": unit_float(),
        "light_intensity_directional": unit_float(),
        "light_direction": st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(0.1, 1)),
        "silhouette_only": st.booleans(),
    }
    if name == "softras":
        specific = {"sigma": log_uniform(1e-7, 1.0), "gamma": log_uniform(1e-5, 1.0),
                    "dist_eps": log_uniform(1e-10, 0.4), "near": log_uniform(1e-3, 2.0),
                    "far": log_uniform(10.0, 1e4), "eps": st.floats(-1.0, 1.0),
                    "dist_func": st.sampled_from(["euclidean", "barycentric"]),
                    "aggr_alpha": st.sampled_from(["prod", "sum", "hard"]),
                    "aggr_rgb": st.sampled_from(["softmax", "hard"]), "double_sided": st.booleans()}
    else:
        specific = {"near": log_uniform(1e-3, 1.0), "far": st.one_of(log_uniform(10.0, 1e4), st.just(math.inf)),
                    "double_sided": st.sampled_from([True, True, False])}
        if name == "nmr":
            specific |= {"anti_aliasing": st.booleans(), "eps": log_uniform(1e-6, 1e-1)}
        elif name == "opendr":
            specific |= {"anti_aliasing": st.booleans(), "overdraw": st.booleans()}
        elif name == "edge":
            specific |= {"samples_per_pixel": st.sampled_from([1, 4]), "edge_samples": st.integers(0, 64),
                         "seed": st.integers(0, 2**31), "shadows": st.booleans(),
                         "shadow_samples": st.integers(0, 64), "shadow_bias": st.sampled_from([0.0, 1e-5, 1e-2])}
    return st.fixed_dictionaries(common | specific)


@st.composite
def scenes(draw, name: str):
    """(renderer, vertices, faces, eye, textures) for renderer ``name``."""
    options = draw(renderer_options(name))
    renderer = renderers.create(name, **options)
    dtype = draw(st.sampled_from([torch.float32, torch.float32, torch.float64, torch.float16, torch.bfloat16]))
    batch = draw(st.integers(1, 2))
    num_vertices = draw(st.integers(3, 7))
    num_faces = draw(st.integers(0, 8))
    half = dtype in (torch.float16, torch.bfloat16)
    # two scenes in three are ordinary (a mesh around the target, seen from 1.8 to 6 away); the
    # others mix in hostile coordinates and cameras (1e30 does not exist in half precision)
    hostile = draw(st.sampled_from([False, False, True]))
    point = coordinate() if not half else st.floats(-1.5, 1.5, width=32)
    if hostile:
        values = draw(st.lists(point, min_size=batch * num_vertices * 3, max_size=batch * num_vertices * 3))
        vertices = torch.tensor(values, dtype=torch.float64).view(batch, num_vertices, 3)
    else:  # seeded, so that shrinking towards 0 does not make every ordinary mesh degenerate
        vertices_gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
        vertices = torch.rand(batch, num_vertices, 3, generator=vertices_gen, dtype=torch.float64) * 2 - 1
    duplicate = draw(st.integers(0, num_vertices - 1))
    vertices[:, -1] = vertices[:, duplicate]  # a duplicate vertex (the same one when duplicate is last)
    if hostile:  # any index triples, repeated indices (degenerate faces) included
        index = st.integers(0, num_vertices - 1)
        faces = torch.tensor(draw(st.lists(st.tuples(index, index, index), min_size=num_faces, max_size=num_faces)),
                             dtype=torch.int64).view(num_faces, 3)
    else:
        faces = torch.stack([torch.randperm(num_vertices, generator=vertices_gen)[:3] for _ in range(num_faces)]
                            ) if num_faces else torch.zeros(0, 3, dtype=torch.int64)
    if hostile:
        distance = draw(st.one_of(log_uniform(0.05, 50.0), st.sampled_from([1e-3 if not half else 0.05])))
    else:
        distance = draw(st.floats(1.8, 6.0))
    elevation = draw(st.one_of(st.floats(-90.0, 90.0), st.sampled_from([90.0, -90.0, 0.0])))
    azimuth = draw(st.floats(-180.0, 180.0))
    eye = renderers.points_from_angles(distance, elevation, azimuth).double().expand(batch, 3)
    textures = None
    kinds = [k for k in ("vertex", "surface") if k in renderer.texture_kinds] + [None]
    kind = draw(st.sampled_from(kinds))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    if kind == "vertex":
        textures = torch.rand(batch, num_vertices, 3, generator=gen, dtype=torch.float64)
    elif kind == "surface":
        res = 1 if name == "edge" else draw(st.integers(1, 2))
        textures = torch.rand(batch, num_faces, res * res, 3, generator=gen, dtype=torch.float64)
    cast = lambda t: None if t is None else t.to(dtype)  # noqa: E731
    return renderer, cast(vertices), faces, cast(eye), cast(textures)


def dtype_is_half(tensor: torch.Tensor) -> bool:
    return tensor.dtype in (torch.float16, torch.bfloat16)


def _check(scene) -> None:
    renderer, vertices, faces, eye, textures = scene
    image = check_render(renderer, vertices, faces, eye, textures, seed=7)
    # what the cases covered (pytest --hypothesis-show-statistics)
    event("drawn" if image[:, 3].max() > 0 else "empty image")
    depth = renderers.camera.look_at(vertices.double(), eye.double())[..., 2]
    if faces.numel() and (depth[:, faces].amin(-1) < renderer.options.near).any():
        event("a face with a corner nearer than near")
    if (vertices.double().abs() >= 1e29).any():
        event("coordinates of 1e30")
    if faces.numel() == 0:
        event("no faces")
    if dtype_is_half(vertices):
        event("half precision")


PROPERTY_SETTINGS = dict(deadline=None, database=None, derandomize=True,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("name", renderers.available())
@settings(max_examples=DEFAULT_EXAMPLES, **PROPERTY_SETTINGS)
@given(data=st.data())
def test_random_scenes_render_finite_in_range_with_finite_gradients(name, data):
    _check(data.draw(scenes(name)))


@pytest.mark.slow
@pytest.mark.parametrize("name", renderers.available())
@settings(max_examples=SLOW_EXAMPLES, **PROPERTY_SETTINGS)
@given(data=st.data())
def test_many_random_scenes(name, data):
    _check(data.draw(scenes(name)))
