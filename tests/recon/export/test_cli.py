"""recon-export end to end: the Hydra config composed in-process, tiny generated data, untrained
checkpoints (with and without vertex colours), dataset items, a whole split, user images."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import trimesh
from hydra import compose, initialize_config_dir
from PIL import Image

pytest.importorskip("renderers")

from recon.data.synthetic import generate  # noqa: E402
from recon.export.cli import export  # noqa: E402
from recon.export.images import InputImageError  # noqa: E402
from recon.hydra_utils import CONFIG_DIR, PROJECT_ROOT  # noqa: E402
from recon.module import ReconstructionModule  # noqa: E402

CATEGORIES = ["90000001", "90000003"]  # synth-chair, synth-airplane
COUNTS = {"train": 1, "val": 1, "test": 2}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    generate(root, seed=0, objects_per_class=COUNTS, categories=CATEGORIES, progress=False)
    return root


def _checkpoint(path, predict_colors: bool):
    """An untrained model saved the way load_from_checkpoint reads it."""
    torch.manual_seed(0)
    module = ReconstructionModule(renderer={"name": "softras", "sigma": 1e-4, "dist_eps": 1e-10},
                                  decoder={"predict_colors": predict_colors},
                                  category_names=["synth-chair", "synth-airplane"])
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "pytorch-lightning_version": pl.__version__}, path)
    return path


def _module_checkpoint(tmp_path_factory, name: str, predict_colors: bool):
    """A checkpoint for this module's tests, deleted when they end: a full model is ~100 MB, and
    pytest keeps tmp_path_factory folders (unlike a passing test's tmp_path) until the next run."""
    folder = tmp_path_factory.mktemp("ckpt")
    yield _checkpoint(folder / name, predict_colors)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def color_ckpt(tmp_path_factory):
    yield from _module_checkpoint(tmp_path_factory, "color.ckpt", True)


@pytest.fixture(scope="module")
def silhouette_ckpt(tmp_path_factory):
    yield from _module_checkpoint(tmp_path_factory, "silhouette.ckpt", False)


@pytest.fixture
def run(tmp_path, data_root, monkeypatch):
    """``run(*overrides)`` composes configs/export.yaml like the command line and exports."""
    monkeypatch.setenv("DIFFMESH_ROOT", str(PROJECT_ROOT))
    out = tmp_path / "out"

    def config(*overrides: str):
        base = [f"paths.output_dir={out}", "extras.print_config=false", "data=synthetic",
                f"data.root={data_root}", "data.generate_if_missing=false", "data.num_workers=0", "device=cpu",
                "preview_size=32", "preview_supersample=1", "turntable_frames=3"]
        with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR, job_name="test_export"):
            return compose(config_name="export", overrides=base + list(overrides))

    def go(*overrides: str):
        return export(config(*overrides))

    go.config = config
    go.out = out
    return go


def _load(path):
    mesh = trimesh.load(path, force="mesh", process=False)
    assert mesh.vertices.shape == (642, 3) and mesh.faces.shape == (1280, 3), path
    assert np.abs(mesh.vertices).max() < 0.5
    return mesh


def test_config_defaults(run):
    cfg = run.config("ckpt_path=x.ckpt")
    assert list(cfg.formats) == ["obj", "ply", "glb"] and cfg.previews is True
    assert cfg.output_dir == str(run.out) and cfg.device == "cpu" and cfg.task_name == "export"


def test_dataset_items_with_vertex_colours(run, color_ckpt, capsys):
    result = run(f"ckpt_path={color_ckpt}", "split=test", "objects=[0,3]", "views=[0,6]")
    out = run.out
    assert result["output_dir"] == out
    names = [r["name"] for r in result["items"]]
    assert names == ["synth-chair/0000_v00", "synth-chair/0000_v06",
                     "synth-airplane/0003_v00", "synth-airplane/0003_v06"]
    for name in names:
        for fmt in ("obj", "ply", "glb"):
            mesh = _load(out / f"{name}.{fmt}")
            assert mesh.visual.kind == "vertex", (name, fmt)
            colors = np.asarray(mesh.visual.vertex_colors)[:, :3]
            assert colors.std() > 0, (name, fmt)  # predicted colours, not one default colour
        with Image.open(out / f"{name}_preview.png") as sheet:
            assert sheet.height > 2 * 32  # input + renders row and the ground-truth row
        with Image.open(out / f"{name}_turntable.gif") as gif:
            assert gif.n_frames == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["checkpoint"] == str(color_ckpt)
    first = manifest["items"][0]
    assert first["vertex_colors"] and first["split"] == "test" and first["object_index"] == 0 and first["view"] == 0
    assert first["files"] == ["synth-chair/0000_v00.obj", "synth-chair/0000_v00.ply", "synth-chair/0000_v00.glb",
                              "synth-chair/0000_v00_preview.png", "synth-chair/0000_v00_turntable.gif"]
    printed = capsys.readouterr().out
    assert str(out) in printed and "with vertex colours" in printed
    assert not list(out.rglob("*.tmp"))


def test_whole_split_silhouette_model(run, silhouette_ckpt):
    result = run(f"ckpt_path={silhouette_ckpt}", "split=val", "formats=[ply]", "previews=false", "batch_size=1")
    assert [r["name"] for r in result["items"]] == ["synth-chair/0000_v00", "synth-airplane/0001_v00"]
    for record in result["items"]:
        assert record["files"] == [record["name"] + ".ply"] and not record["vertex_colors"]
        mesh = _load(run.out / record["files"][0])
        assert mesh.visual.kind is None  # no colours written for a silhouette model
    assert not list(run.out.rglob("*.obj")) and not list(run.out.rglob("*.png"))


def test_user_images_rgba_and_rgb_with_mask(run, color_ckpt, tmp_path):
    rgba = np.zeros((96, 80, 4), np.uint8)
    rgba[20:70, 20:60] = (200, 60, 30, 255)
    Image.fromarray(rgba).save(tmp_path / "cutout.png")
    Image.fromarray(rgba[..., :3]).save(tmp_path / "photo.jpg")
    Image.fromarray(rgba[..., 3]).save(tmp_path / "photo_mask.png")
    result = run(f"ckpt_path={color_ckpt}", f"inputs=[{tmp_path}/cutout.png,{tmp_path}/photo.jpg]",
                 f"masks=[null,{tmp_path}/photo_mask.png]", "formats=[obj,glb]")
    assert [r["name"] for r in result["items"]] == ["inputs/cutout", "inputs/photo"]
    assert result["items"][1]["mask"] == str(tmp_path / "photo_mask.png")
    for name in ("cutout", "photo"):
        assert _load(run.out / "inputs" / f"{name}.obj").visual.kind == "vertex"
        _load(run.out / "inputs" / f"{name}.glb")
        with Image.open(run.out / "inputs" / f"{name}_preview.png") as sheet:
            assert sheet.height < 2 * 32  # no ground truth for the user's images
    assert not (run.out / "inputs" / "cutout.ply").exists()


def test_clear_errors(run, color_ckpt, tmp_path):
    with pytest.raises(ValueError, match="ckpt_path is required"):
        run("split=test")
    with pytest.raises(FileNotFoundError, match="nothere.ckpt"):
        run(f"ckpt_path={tmp_path}/nothere.ckpt", "split=test")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"junk\.ckpt.*not a checkpoint saved by recon-train"):
        run(f"ckpt_path={tmp_path}/junk.ckpt", "split=test")
    with pytest.raises(ValueError, match="nothing to export"):
        run(f"ckpt_path={color_ckpt}")
    with pytest.raises(ValueError, match="unknown mesh format"):
        run(f"ckpt_path={color_ckpt}", "split=test", "formats=[stl]")
    with pytest.raises(ValueError, match=r"objects \[7\] out of range.*4 objects"):
        run(f"ckpt_path={color_ckpt}", "split=test", "objects=[7]")
    with pytest.raises(ValueError, match=r"views \[24\] out of range"):
        run(f"ckpt_path={color_ckpt}", "split=test", "views=[24]")
    with pytest.raises(ValueError, match="views is empty"):
        run(f"ckpt_path={color_ckpt}", "split=test", "views=[]")
    with pytest.raises(ValueError, match="split must be one of"):
        run(f"ckpt_path={color_ckpt}", "split=holdout")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(InputImageError, match=r"rgb\.png.*mask"):
        run(f"ckpt_path={color_ckpt}", f"inputs=[{tmp_path}/rgb.png]")
    with pytest.raises(ValueError, match="either inputs"):
        run(f"ckpt_path={color_ckpt}", "split=test", f"inputs=[{tmp_path}/rgb.png]")
    assert not run.out.exists()  # nothing written by a failed job
