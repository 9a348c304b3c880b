"""The synthetic generator: real format, deterministic, voxels = voxelized mesh."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

from recon.data.categories import SHAPENET_CATEGORIES, SYNTHETIC_CATEGORIES
from recon.data.procedural import BUILDERS
from recon.data.render_datasets import EvalViews, RenderSplit
from recon.data.synthetic import generate, main, make_object
from recon.evaluation.voxelize import voxelize

pytest.importorskip("renderers")

CATS = ["90000001", "90000003"]
COUNTS = {"train": 2, "val": 1, "test": 1}


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(out, seed=5, objects_per_class=COUNTS, categories=CATS, progress=False)
    return out


def _arr(path):
    with np.load(path) as z:
        return z[z.files[0]]


def test_format_matches_the_real_data(synth):
    for c in CATS:
        for split, n in COUNTS.items():
            for kind, shape, dtype in (("images", (n, 24, 4, 64, 64), np.uint8),
                                       ("voxels", (n, 32, 32, 32), np.bool_)):
                p = synth / f"{c}_{split}_{kind}.npz"
                with zipfile.ZipFile(p) as zf:
                    assert zf.namelist() == ["arr_0.npy"]
                a = _arr(p)
                assert a.shape == shape and a.dtype == dtype
    im = _arr(synth / "90000001_train_images.npz")
    alpha = im[:, :, 3]
    assert 0 < (alpha == 255).mean() < 0.6                  # an object covering part of the view
    assert ((alpha > 0) & (alpha < 255)).sum() > 100        # antialiased edges
    assert im[:, :, :3][np.broadcast_to(alpha[:, :, None] == 0, im[:, :, :3].shape)].max() == 0  # background RGB 0
    assert im[:, :, :3].max() > 100                          # shaded colours
    vox = _arr(synth / "90000001_train_voxels.npz")
    assert 0 < vox.mean() < 0.5
    ds = EvalViews(RenderSplit(synth, "val"))
    assert len(ds) == 2 * 24 and ds[25]["images"].shape == (4, 64, 64)


def test_ids_never_collide_with_shapenet():
    assert not set(SYNTHETIC_CATEGORIES) & set(SHAPENET_CATEGORIES)
    assert set(BUILDERS) == set(SYNTHETIC_CATEGORIES)
    assert all(len(s) == 8 and int(s) >= 90000000 for s in SYNTHETIC_CATEGORIES)


def test_voxels_are_the_voxelized_mesh(synth):
    vox = _arr(synth / "90000003_train_voxels.npz")
    for i in range(2):
        m = make_object("90000003", 5, "train", i)
        assert np.abs(m.vertices).max() <= 0.5 + 1e-6
        assert np.isclose(np.ptp(m.vertices, 0).max(), 1.0)  # largest side 1
        assert np.array_equal(voxelize(m.vertices, m.faces)[0].numpy(), vox[i])


def test_deterministic_for_a_seed(synth, tmp_path):
    generate(tmp_path / "a", seed=5, objects_per_class={"train": 1, "val": 1, "test": 1},
             categories=["90000001"], progress=False)
    main(["--out", str(tmp_path / "b"), "--seed", "6", "--objects-per-class", "1",
          "--categories", "90000001", "--no-progress"])
    a = _arr(tmp_path / "a" / "90000001_train_images.npz")
    ref = _arr(synth / "90000001_train_images.npz")
    assert np.array_equal(a[0], ref[0])  # same seed: same object 0, whatever the counts
    b = _arr(tmp_path / "b" / "90000001_train_images.npz")
    assert not np.array_equal(a, b)      # another seed: another object
    manifest = json.loads((tmp_path / "b" / "synthetic.json").read_text())
    assert manifest["seed"] == 6 and 0 < manifest["seconds"] < 600


def test_every_category_builds_distinct_shapes():
    sizes = {}
    for c in SYNTHETIC_CATEGORIES:
        m = make_object(c, 0, "train", 0)
        assert len(m.faces) > 10 and len(np.unique(m.face_colors, axis=0)) >= 2  # per-part colours
        sizes[c] = tuple(np.round(np.ptp(m.vertices, 0), 2))
    assert len(set(sizes.values())) == len(sizes)
    v = voxelize(torch.tensor(make_object("90000005", 0, "train", 0).vertices),
                 make_object("90000005", 0, "train", 0).faces)
    assert v.any()


def test_ensure_synthetic_generates_once(tmp_path):
    from recon.data.synthetic import ensure_synthetic

    kw = dict(seed=1, objects_per_class={"train": 1, "val": 1, "test": 1}, categories=["90000002"],
              progress=False)
    out = ensure_synthetic(tmp_path / "s", **kw)
    stamp = (out / "90000002_train_images.npz").stat().st_mtime_ns
    ensure_synthetic(tmp_path / "s", **kw)
    assert (out / "90000002_train_images.npz").stat().st_mtime_ns == stamp  # not regenerated
    ensure_synthetic(tmp_path / "s", **{**kw, "seed": 2})
    assert (out / "90000002_train_images.npz").stat().st_mtime_ns == stamp  # a complete set is reused
    assert json.loads((out / "synthetic.json").read_text())["seed"] == 1
