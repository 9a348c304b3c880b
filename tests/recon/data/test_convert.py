"""The ShapeNetCore converter (recon.data.convert, reading models with
recon.data.shapenetcore_models) on a fake ShapeNetCore tree written here."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from recon.data.convert import convert, main
from recon.data.render_datasets import EvalViews, RenderSplit
from recon.data.shapenetcore_models import load_model, read_splits
from recon.evaluation.voxelize import voxelize

CUBE_V = [(0, 0, 0), (2, 0, 0), (2, 1, 0), (0, 1, 0), (0, 0, 1), (2, 0, 1), (2, 1, 1), (0, 1, 1)]
CUBE_F = [(1, 3, 2), (1, 4, 3), (5, 6, 7), (5, 7, 8), (1, 2, 6), (1, 6, 5),
          (4, 8, 7), (4, 7, 3), (1, 5, 8), (1, 8, 4), (2, 3, 7), (2, 7, 6)]


def write_obj(path: Path, scale: float, multi_material: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    if multi_material:
        (path.parent / "model.mtl").write_text("newmtl red\nKd 1 0 0\nnewmtl blue\nKd 0 0 1\n")
        lines.append("mtllib model.mtl")
    lines += [f"v {x * scale} {y * scale} {z * scale * 1.5}" for x, y, z in CUBE_V]
    for i, f in enumerate(CUBE_F):
        if multi_material and i in (0, 6):
            lines.append("usemtl red" if i == 0 else "usemtl blue")
        lines.append("f " + " ".join(map(str, f)))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def shapenet(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "ShapeNetCore"
    write_obj(root / "02958343" / "carA" / "model.obj", 1.0, True)                       # v1
    write_obj(root / "02958343" / "carB" / "models" / "model_normalized.obj", 2.0, False)  # v2
    write_obj(root / "02958343" / "carC" / "model.obj", 0.5, True)
    write_obj(root / "03001627" / "chairA" / "models" / "model_normalized.obj", 1.0, True)
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "02958343_train.lst").write_text("carA\ncarB\n")
    (splits / "02958343_test.lst").write_text("carC\n")
    (splits / "val.lst").write_text("03001627/chairA\n")
    return root, splits


CALLS: list[int] = []


def fake_render(vertices, faces, eyes, face_colors):
    """Deterministic stand-in for the renderer: (B,4,256,256), colour = mean face colour."""
    CALLS.append(1)
    b = vertices.shape[0]
    out = torch.zeros(b, 4, 256, 256)
    extent = int(64 + 100 * float(vertices[0].abs().max()))
    out[:, :3, :extent, :extent] = face_colors.mean(dim=(1, 2)).view(b, 3, 1, 1)
    out[:, 3, :extent, :extent] = 1
    out[:, :, 3, :] *= (torch.arange(b) / b).view(b, 1, 1)
    return out


def _arr(p):
    with np.load(p) as z:
        return z[z.files[0]]


def test_split_list_formats(tmp_path, shapenet):
    _, splits = shapenet
    t = read_splits(splits)
    assert t == {"train": {"02958343": ["carA", "carB"]}, "test": {"02958343": ["carC"]},
                 "val": {"03001627": ["chairA"]}}
    csv = tmp_path / "all.csv"
    csv.write_text("id,synsetId,subSynsetId,modelId,split\n1,2958343,x,carA,train\n2,03001627,y,chairA,val\n")
    assert read_splits(csv) == {"train": {"02958343": ["carA"]}, "val": {"03001627": ["chairA"]}}


def test_multi_material_obj(shapenet):
    root, _ = shapenet
    m = load_model(root / "02958343" / "carA" / "model.obj")
    assert len(m.faces) == 12
    cols = {tuple(c) for c in m.face_colors.round(3).tolist()}
    assert cols == {(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)}
    assert np.isclose(np.ptp(m.vertices, 0).max(), 1.0) and np.allclose(m.vertices.max(0), -m.vertices.min(0))


def test_convert_and_read_back(tmp_path, shapenet):
    root, splits = shapenet
    out = tmp_path / "out"
    r = convert(root, splits, out, workers=0, render_fn=fake_render, progress=False)
    assert r["converted"] == 4 and not r["failed"]
    im = _arr(out / "02958343_train_images.npz")
    vox = _arr(out / "02958343_train_voxels.npz")
    assert im.shape == (2, 24, 4, 64, 64) and im.dtype == np.uint8
    assert vox.shape == (2, 32, 32, 32) and vox.dtype == np.bool_
    assert (out / "02958343_train_ids.txt").read_text().split() == ["carA", "carB"]
    m = load_model(root / "02958343" / "carB" / "models" / "model_normalized.obj")
    assert np.array_equal(vox[1], voxelize(m.vertices, m.faces)[0].numpy())
    assert not (out / ".parts").exists()
    ds = EvalViews(RenderSplit(out, "test", categories=["02958343"]))
    assert len(ds) == 24 and ds[3]["voxels"].any()


def test_interrupted_run_resumes(tmp_path, shapenet):
    root, splits = shapenet
    clean = tmp_path / "clean"
    convert(root, splits, clean, workers=0, render_fn=fake_render, progress=False)

    out = tmp_path / "resumed"
    done = []

    def dies_on_third(*args):
        if len(done) == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C
        done.append(1)
        return fake_render(*args)

    with pytest.raises(KeyboardInterrupt):
        convert(root, splits, out, workers=0, render_fn=dies_on_third, progress=False)
    assert len(list((out / ".parts").rglob("*.npz"))) == 2
    assert not list(out.glob("*.npz"))  # nothing half-written was published
    CALLS.clear()
    r = convert(root, splits, out, workers=0, render_fn=fake_render, progress=False)
    assert len(CALLS) == 2 and r["converted"] == 2 and r["skipped"] == 2  # finished models not redone
    for p in sorted(clean.glob("*.npz")):
        assert np.array_equal(_arr(p), _arr(out / p.name)), p.name
    CALLS.clear()
    r = convert(root, splits, out, workers=0, render_fn=fake_render, progress=False)
    assert len(CALLS) == 0 and r["skipped"] == 4


def test_parallel_workers_and_failures(tmp_path, shapenet, capsys):
    root, splits = shapenet
    (splits / "02958343_val.lst").write_text("carMissing\ncarA\n")
    out = tmp_path / "par"
    r = convert(root, splits, out, workers=2, render_fn=fake_render, progress=False)
    assert r["converted"] == 5 and [f[2] for f in r["failed"]] == ["carMissing"]
    assert "carMissing" in (out / "failed.txt").read_text()
    assert _arr(out / "02958343_val_images.npz").shape[0] == 1  # the failed model is left out
    seq = tmp_path / "seq"
    convert(root, splits, seq, workers=0, render_fn=fake_render, progress=False)
    for p in sorted(seq.glob("*.npz")):
        assert np.array_equal(_arr(p), _arr(out / p.name)), p.name


def test_cli_reports_bad_split_file(tmp_path, capsys):
    assert main(["--shapenet", str(tmp_path), "--splits", str(tmp_path / "nope"), "--out",
                 str(tmp_path / "o"), "--no-progress"]) == 2
    assert "nope: split lists must be" in capsys.readouterr().err
