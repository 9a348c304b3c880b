"""`data=synthetic` never replaces a folder: it reuses a complete synthetic set whatever its
parameters, resumes its own interrupted set, and refuses anything else untouched.

The default renderer is replaced by the deterministic stand-in, or by one that fails the
test if called, so every case also shows whether anything was rendered.
"""
from __future__ import annotations

import json
import logging
import shlex
from pathlib import Path

import pytest
from datafiles import write_npz_split
from killrun import CountingRender, fake_render, run_child

import recon.data.render_views as render_views
from recon.data.categories import SPLITS
from recon.data.datamodule import RendersDataModule
from recon.data.synthetic import JOURNAL, MANIFEST, SyntheticSetError, ensure_synthetic, generate, main

SMALL = {"seed": 0, "objects_per_class": {"train": 2, "val": 1, "test": 1}, "categories": ["90000001"]}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def no_rendering(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("the synthetic set was (re)generated")

    monkeypatch.setattr(render_views, "default_render_fn", refuse)


@pytest.fixture
def fake_default_render(monkeypatch) -> CountingRender:
    render = CountingRender()
    monkeypatch.setattr(render_views, "default_render_fn", lambda *_a, **_k: render)
    return render


@pytest.fixture
def user_set(tmp_path) -> Path:
    """A set made deliberately with non-default options (like `recon-synth --objects-per-class 2`)."""
    out = tmp_path / "synthetic"
    generate(out, render_fn=fake_render, progress=False, **SMALL)
    return out


def test_data_synthetic_reuses_a_set_with_other_parameters(user_set, no_rendering, caplog):
    before = snapshot(user_set)
    dm = RendersDataModule(user_set, generate_if_missing=True, batch_size=2)
    with caplog.at_level(logging.INFO, logger="recon.data.synthetic"):
        dm.prepare_data()
    assert snapshot(user_set) == before
    assert (f"{user_set}: reusing the existing synthetic set as it is (seed 0, objects per class "
            "{'train': 2, 'val': 1, 'test': 1}, categories 90000001), made with other parameters than "
            "the defaults (seed 0, objects per class {'train': 40, 'val': 8, 'test': 8}") in caplog.text
    dm.setup("fit")
    assert dm.category_ids == ["90000001"]


def test_generates_into_a_missing_or_empty_folder(tmp_path, fake_default_render):
    for out in (tmp_path / "new", tmp_path / "empty"):
        if out.name == "empty":
            out.mkdir()
        ensure_synthetic(out, progress=False, **SMALL)
        assert json.loads((out / MANIFEST).read_text())["objects_per_class"] == SMALL["objects_per_class"]
    assert fake_default_render.calls == 2 * 4


def test_resumes_its_own_interrupted_set(tmp_path, fake_default_render, caplog):
    out = tmp_path / "synthetic"
    assert run_child("synth", {"out_dir": str(out), **SMALL}, {"KILL_RENDER": "3"}).returncode == -9
    ensure_synthetic(out, progress=False, **SMALL)
    assert fake_default_render.calls == 2  # the train files were kept
    assert "an interrupted recon-synth run; completing it" in caplog.text
    clean = tmp_path / "clean"
    generate(clean, render_fn=fake_render, progress=False, **SMALL)
    assert {k: v for k, v in snapshot(out).items() if k != MANIFEST} == \
        {k: v for k, v in snapshot(clean).items() if k != MANIFEST}


def _corrupt_json(out: Path) -> str:
    (out / MANIFEST).write_text('{"seed": 0, "categ')
    return f"{out / MANIFEST}: corrupt manifest, not valid JSON"


def _json_list(out: Path) -> str:
    (out / MANIFEST).write_text("[1, 2]")
    return f"{out / MANIFEST}: corrupt manifest, a JSON list instead of an object"


def _keys_missing(out: Path) -> str:
    (out / MANIFEST).write_text('{"format_version": 1, "categories": {}}')
    return f"{out / MANIFEST}: corrupt manifest, missing seed, objects_per_class"


def _file_missing(out: Path) -> str:
    (out / "90000001_val_images.npz").unlink()
    return (f"{out}: holds an incomplete synthetic set (90000001_val_images.npz: missing) made with seed 0, "
            "objects per class {'train': 2, 'val': 1, 'test': 1}, categories 90000001; it is left untouched: "
            f"finish it with `recon-synth --out {out} --seed 0 --objects-per-class 2 --val-objects 1 "
            "--test-objects 1 --categories 90000001`, or remove it")


def _file_truncated(out: Path) -> str:
    p = out / "90000001_train_voxels.npz"
    p.write_bytes(p.read_bytes()[:100])
    return "incomplete synthetic set (90000001_train_voxels.npz: is 100 bytes, the manifest says"


def _interrupted_other_run(out: Path) -> str:
    (out / JOURNAL).write_text((out / MANIFEST).read_text())
    (out / MANIFEST).unlink()
    return f"{out}: holds an interrupted recon-synth run made with seed 0"


def _no_manifest(out: Path) -> str:
    (out / MANIFEST).unlink()
    return f"{out}: not a synthetic set (no synthetic.json; holds 90000001_test_images.npz"


REFUSED = {f.__name__.strip("_"): f for f in (_corrupt_json, _json_list, _keys_missing, _file_missing,
                                               _file_truncated, _interrupted_other_run, _no_manifest)}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refuses_anything_else_and_touches_nothing(user_set, no_rendering, case):
    problem = REFUSED[case](user_set)
    before = snapshot(user_set)
    with pytest.raises(SyntheticSetError) as info:
        RendersDataModule(user_set, generate_if_missing=True).prepare_data()
    assert problem in str(info.value)
    assert snapshot(user_set) == before


def test_refuses_a_folder_of_other_data(tmp_path, no_rendering):
    out = tmp_path / "shapenet"
    write_npz_split(out, "02691156", "train", 2, 0)
    before = snapshot(out)
    with pytest.raises(SyntheticSetError, match=f"{out}: not a synthetic set \\(no synthetic.json; holds "
                                                "02691156_train_images.npz, 02691156_train_voxels.npz\\)"):
        ensure_synthetic(out)
    with pytest.raises(SyntheticSetError, match="holds files that are not part of a synthetic set"):
        generate(out, progress=False, **SMALL)
    assert snapshot(out) == before


def test_the_suggested_command_completes_the_set(user_set, fake_default_render):
    msg = _file_missing(user_set)
    command = msg.split("`")[1]
    assert main(shlex.split(command)[1:] + ["--no-progress"]) == 0
    assert fake_default_render.calls == 1  # only the missing val split
    ensure_synthetic(user_set)  # now complete: reused


def test_recon_synth_replaces_another_set_only_with_overwrite(tmp_path, fake_default_render, capsys):
    out = tmp_path / "synthetic"
    generate(out, render_fn=fake_render, progress=False, seed=0, objects_per_class=SMALL["objects_per_class"],
             categories=["90000001", "90000004"])
    before = snapshot(out)
    args = ["--out", str(out), "--objects-per-class", "1", "--categories", "90000001", "--no-progress"]
    assert main(args) == 2
    assert "holds a synthetic set with other parameters (seed 0" in capsys.readouterr().err
    assert snapshot(out) == before
    assert main(args + ["--overwrite"]) == 0
    assert sorted(snapshot(out)) == sorted([MANIFEST] + [f"90000001_{s}_{k}.npz" for s in SPLITS
                                                         for k in ("images", "voxels")])  # 90000004's gone
    assert json.loads((out / MANIFEST).read_text())["objects_per_class"] == {"train": 1, "val": 1, "test": 1}
