"""`recon-synth` and `recon-convert` survive SIGKILL at any point and resume.

Each case runs the tool in a child process (``killrun.py``) killed with SIGKILL at one
point, resumes in this process, and checks every output is byte-identical to a clean,
uninterrupted run, nothing temporary is left, and only unfinished work was redone.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from killrun import CountingRender, fake_render, kill_when, run_child, write_fake_shapenet

from recon.data.categories import SPLITS
from recon.data.convert import convert
from recon.data.render_datasets import EvalViews, RenderSplit
from recon.data.synthetic import JOURNAL, MANIFEST, generate

SYNTH = {"seed": 3, "objects_per_class": {"train": 2, "val": 1, "test": 1},
         "categories": ["90000001", "90000004"]}
SYNTH_OBJECTS = 8  # 2 categories x (2 + 1 + 1)
CONVERT_MODELS = 4  # carA, carB (train), chairA (val), carC (test)


def snapshot(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes), except names in ``skip``."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in skip}


def assert_same_outputs(out: Path, clean: Path, skip: tuple[str, ...] = ()) -> None:
    got, want = snapshot(out, skip), snapshot(clean, skip)
    assert sorted(got) == sorted(want)  # no leftover temporary or part files either
    for name in want:
        assert got[name] == want[name], f"{name} differs from the uninterrupted run"


def _synth_manifest_files(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text())["files"]


@pytest.fixture(scope="module")
def clean_synth(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean_synth")
    generate(out, render_fn=fake_render, progress=False, **SYNTH)
    return out


def _resume_synth(out: Path, clean: Path) -> int:
    """Re-runs the generator over ``out``; checks it against ``clean``; returns renders done."""
    render = CountingRender()
    generate(out, render_fn=render, progress=False, **SYNTH)
    assert not (out / JOURNAL).exists()
    assert_same_outputs(out, clean, skip=(MANIFEST,))  # the manifest holds the run time
    assert _synth_manifest_files(out) == _synth_manifest_files(clean)
    for split in SPLITS:
        assert len(EvalViews(RenderSplit(out, split))) == 2 * SYNTH["objects_per_class"][split] * 24
    return render.calls


# kill point -> (environment of the child, renders the resumed run must do)
SYNTH_KILLS = {
    "mid-split": ({"KILL_RENDER": "3"}, SYNTH_OBJECTS - 2),        # 1st category's train files done
    "one-file-of-a-pair": ({"KILL_PUBLISH": "3"}, SYNTH_OBJECTS - 2),  # val voxels out, images not
    "pair-not-yet-recorded": ({"KILL_PUBLISH": "2"}, SYNTH_OBJECTS),   # published, not in the journal
    # write_manifest: the journal once, after each of the 6 pairs, then synthetic.json (8th)
    "before-the-manifest": ({"KILL_CALL": "recon.data.synthetic:write_manifest:8"}, 0),
}


@pytest.mark.parametrize("kill", sorted(SYNTH_KILLS))
def test_generator_resumes_after_sigkill(tmp_path, clean_synth, kill):
    env, redo = SYNTH_KILLS[kill]
    out = tmp_path / "synth"
    proc = run_child("synth", {"out_dir": str(out), **SYNTH}, env)
    assert proc.returncode == -9, proc.stderr
    assert not (out / MANIFEST).exists()  # an interrupted set never looks complete
    assert (out / JOURNAL).exists()
    assert _resume_synth(out, clean_synth) == redo


def test_generator_killed_from_outside_after_its_first_files(tmp_path, clean_synth):
    out = tmp_path / "synth"
    proc = run_child("synth", {"out_dir": str(out), **SYNTH}, {"SLOW": "0.3"}, wait=False)
    assert kill_when(proc, lambda: bool(_recorded(out))), "finished before it could be killed"
    assert proc.returncode == -9
    assert _resume_synth(out, clean_synth) <= SYNTH_OBJECTS - 2  # the recorded files were kept


def _recorded(out: Path) -> dict:
    """The files the generator's journal records as finished (empty before it exists)."""
    try:
        return json.loads((out / JOURNAL).read_text())["files"]
    except FileNotFoundError:
        return {}


def test_generator_redoes_a_recorded_file_damaged_after_the_kill(tmp_path, clean_synth):
    out = tmp_path / "synth"
    assert run_child("synth", {"out_dir": str(out), **SYNTH}, {"KILL_RENDER": "4"}).returncode == -9
    done = json.loads((out / JOURNAL).read_text())["files"]
    assert sorted(done) == ["90000001_train_images.npz", "90000001_train_voxels.npz",
                            "90000001_val_images.npz", "90000001_val_voxels.npz"]
    p = out / "90000001_train_images.npz"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 1  # same size, different content: found by the CRC-32
    p.write_bytes(bytes(data))
    assert _resume_synth(out, clean_synth) == SYNTH_OBJECTS - 1  # val kept, train redone


def test_generator_rerun_over_a_complete_set_does_nothing(tmp_path, clean_synth):
    out = tmp_path / "synth"
    shutil.copytree(clean_synth, out)
    before = snapshot(out)
    render = CountingRender()
    generate(out, render_fn=render, progress=False, **SYNTH)
    assert render.calls == 0 and snapshot(out) == before


# -- the ShapeNetCore converter ------------------------------------------------------------

@pytest.fixture
def shapenet(tmp_path) -> tuple[Path, Path]:
    return write_fake_shapenet(tmp_path / "in")


@pytest.fixture
def clean_convert(tmp_path, shapenet) -> Path:
    tree, splits = shapenet
    out = tmp_path / "clean"
    r = convert(tree, splits, out, workers=0, render_fn=fake_render, progress=False)
    assert r["converted"] == CONVERT_MODELS and not r["failed"]
    return out


def _resume_convert(shapenet: tuple[Path, Path], out: Path, clean: Path) -> int:
    """Re-runs the converter over ``out``; checks it against ``clean``; returns models converted."""
    tree, splits = shapenet
    render = CountingRender()
    r = convert(tree, splits, out, workers=0, render_fn=render, progress=False)
    assert not r["failed"] and r["converted"] == render.calls
    assert r["converted"] + r["skipped"] == CONVERT_MODELS
    assert_same_outputs(out, clean)
    assert len(EvalViews(RenderSplit(out, "train", categories=["02958343"]))) == 2 * 24
    return render.calls


CONVERT_KILLS = {
    "mid-conversion": ({"KILL_RENDER": "3"}, CONVERT_MODELS - 2),       # parts of carA, carB done
    "one-file-of-a-split": ({"KILL_PUBLISH": "1"}, 0),                   # voxels out, images not
    "before-the-id-list": ({"KILL_PUBLISH": "2"}, 0),                    # both npz out, no ids.txt
    "before-the-parts-are-removed": ({"KILL_CALL": "recon.data.convert:_remove_parts"}, 0),
}


@pytest.mark.parametrize("kill", sorted(CONVERT_KILLS))
def test_converter_resumes_after_sigkill(tmp_path, shapenet, clean_convert, kill):
    env, redo = CONVERT_KILLS[kill]
    tree, splits = shapenet
    out = tmp_path / "out"
    proc = run_child("convert", {"shapenet": str(tree), "splits_file": str(splits), "out": str(out)}, env)
    assert proc.returncode == -9, proc.stderr
    assert _resume_convert(shapenet, out, clean_convert) == redo


def test_converter_killed_from_outside_after_its_first_part(tmp_path, shapenet, clean_convert):
    tree, splits = shapenet
    out = tmp_path / "out"
    proc = run_child("convert", {"shapenet": str(tree), "splits_file": str(splits), "out": str(out)},
                     {"SLOW": "0.4"}, wait=False)
    parts = lambda: [p for p in (out / ".parts").rglob("*.npz") if not p.name.startswith(".")]  # noqa: E731
    assert kill_when(proc, lambda: bool(parts())), "finished before it could be killed"
    assert 1 <= _resume_convert(shapenet, out, clean_convert) < CONVERT_MODELS


def test_converter_redoes_a_damaged_part(tmp_path, shapenet, clean_convert, caplog):
    tree, splits = shapenet
    out = tmp_path / "out"
    assert run_child("convert", {"shapenet": str(tree), "splits_file": str(splits), "out": str(out)},
                     {"KILL_RENDER": "3"}).returncode == -9
    part = out / ".parts" / "02958343_train" / "carA.npz"
    part.write_bytes(part.read_bytes()[:1000])  # as after a crash without fsync
    assert _resume_convert(shapenet, out, clean_convert) == CONVERT_MODELS - 1
    assert "carA.npz: unreadable" in caplog.text


def test_converter_redoes_a_split_whose_model_list_changed(tmp_path, shapenet, clean_convert):
    tree, splits = shapenet
    out = tmp_path / "out"
    (splits / "02958343_train.lst").write_text("carA\n")
    convert(tree, splits, out, workers=0, render_fn=fake_render, progress=False)
    assert (out / "02958343_train_ids.txt").read_text() == "carA\n"
    (splits / "02958343_train.lst").write_text("carA\ncarB\n")
    assert _resume_convert(shapenet, out, clean_convert) == 2  # carA's part was removed: both redone


def test_converter_does_not_write_a_split_whose_models_all_failed(tmp_path, shapenet):
    tree, splits = shapenet
    shutil.rmtree(tree / "03001627" / "chairA")
    out = tmp_path / "out"
    r = convert(tree, splits, out, workers=0, render_fn=fake_render, progress=False)
    assert r["empty"] == [("03001627", "val")] and [f[2] for f in r["failed"]] == ["chairA"]
    assert not list(out.glob("03001627_*"))
    assert "chairA" in (out / "failed.txt").read_text()
    convert(tree, splits, out, workers=0, render_fn=fake_render, progress=False)
    assert len((out / "failed.txt").read_text().splitlines()) == 1  # not repeated by a re-run
    with pytest.raises(FileNotFoundError, match="no npz data for split 'val'"):
        RenderSplit(out, "val")


def test_converter_redoes_an_output_damaged_after_it_was_recorded(tmp_path, shapenet, clean_convert):
    out = tmp_path / "out"
    shutil.copytree(clean_convert, out)
    p = out / "02958343_train_images.npz"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 1  # same size: only the recorded CRC-32 tells
    p.write_bytes(bytes(data))
    assert _resume_convert(shapenet, out, clean_convert) == 2  # that split's two models, again
