"""scripts/shadow_recovery.py: a reduced run (32 px, few Adam steps) of its height recovery, and
its command line end to end on a tiny image."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import shadow_recovery  # noqa: E402

STEPS = 60


@pytest.fixture(autouse=True)
def one_thread():
    """The renders are small: one thread is as fast, and is not slowed down by busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def scene():
    pytest.importorskip("trimesh")
    return shadow_recovery.make_scene()


def test_height_recovered_through_the_shadow(scene):
    with_term = shadow_recovery.recover_height(STEPS, 32, scene=scene)
    without = shadow_recovery.recover_height(STEPS, 32, shadow_samples=0, scene=scene)
    start = with_term["errors"][0]
    assert start == pytest.approx(abs(shadow_recovery.START_HEIGHT - shadow_recovery.TRUE_HEIGHT))
    assert len(with_term["errors"]) == STEPS + 1 and len(with_term["losses"]) == STEPS
    # the secondary term's gradient moves the shadow onto the target's: the error shrinks > 20x
    assert with_term["errors"][-1] < start / 20, with_term["errors"][-10:]
    # without it only the box's slight perspective scaling is left to follow: clearly worse
    assert without["errors"][-1] > 3 * with_term["errors"][-1], (without["errors"][-1], with_term["errors"][-1])


def test_main_writes_the_figure(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    pytest.importorskip("trimesh")
    results = shadow_recovery.main(["--steps", "2", "--image-size", "16", "--out", str(tmp_path), "--threads", "1"])
    assert set(results) == {(task, secondary) for task in ("height", "light") for secondary in (True, False)}
    assert (tmp_path / "shadow_recovery.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = capsys.readouterr().out
    assert "height" in table and "light" in table and "without" in table
