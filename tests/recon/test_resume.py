"""A run killed with SIGKILL and resumed from its last checkpoint ends with exactly the weights
of an uninterrupted run (recon/resume.py, recon/checkpoint_io.py).

Each run is a child process (``tests/recon/resume_child.py``) on the CPU with the tiny data and
a tiny model; the edge renderer draws its sampling seeds from torch's generator in training
and in the validation previews, so the RNG stream and the data position both matter.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
MAX_STEPS = 6  # 3 epochs of 2 steps


def _command(data: Path, out: Path, kill_at: int, ckpt: Path | None, result: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "tests.recon.resume_child", str(data), str(out), str(MAX_STEPS), str(kill_at),
            str(ckpt) if ckpt else "-", str(result), *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "WANDB_MODE": "disabled", "PYTHONDONTWRITEBYTECODE": "1"}


def _run(*args, expect_kill: bool = False) -> None:
    done = subprocess.run(_command(*args), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    if expect_kill:
        assert done.returncode == -9, f"expected SIGKILL, got {done.returncode}\n{done.stderr[-3000:]}"
    else:
        assert done.returncode == 0, done.stderr[-3000:]


def _batches(result: Path) -> dict[int, set[str]]:
    """step -> the object indices of the batches it ran on (a killed run starts its last step
    twice: once before the kill, once after resuming; both must see the same batch)."""
    steps: dict[int, set[str]] = {}
    for line in result.with_name(result.name + ".batches").read_text().splitlines():
        step, objects = line.split(" ", 1)
        steps.setdefault(int(step), set()).add(objects)
    return steps


def _assert_equal(a, b, where: str = "") -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), f"{where} differs"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f"{where}: keys differ"
        for key in a:
            _assert_equal(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.fixture(scope="module")
def uninterrupted(tiny_data, tmp_path_factory):
    """The reference run, started in the background so it overlaps the first killed run."""
    tmp = tmp_path_factory.mktemp("uninterrupted")
    result = tmp / "final.pt"
    process = subprocess.Popen(_command(tiny_data, tmp / "run", -1, None, result, []), cwd=ROOT, env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def wait() -> Path:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
        return result

    yield wait
    if process.poll() is None:
        process.kill()
        process.wait()


CASES = {
    # killed at the start of step 3: last.ckpt is from the end of step 2, mid-epoch
    "mid_epoch": (3, ["callbacks.model_checkpoint.every_n_train_steps=1"]),
    # killed at the start of step 4: last.ckpt was written after epoch 1's validation
    "after_validation": (4, []),
}
SLOW_CASES = {
    # killed at the start of step 4: last.ckpt is from the end of step 3, the epoch's last batch, before validation
    "end_of_epoch_batch": (4, ["callbacks.model_checkpoint.every_n_train_steps=1"]),
}


def _kill_resume_compare(case, kill_at, extra, tiny_data, tmp_path, uninterrupted) -> None:
    out, result = tmp_path / "run", tmp_path / "final.pt"
    _run(tiny_data, out, kill_at, None, result, extra, expect_kill=True)
    assert not result.exists()
    last = out / "checkpoints" / "last.ckpt"
    assert last.is_file(), f"no last.ckpt after the kill ({case})"
    saved_step = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    assert saved_step == kill_at, f"last.ckpt is at step {saved_step}, expected {kill_at}"
    assert not list(out.glob("checkpoints/.*.tmp")), "a temporary checkpoint file was left behind"

    _run(tiny_data, out, -1, last, result, extra)
    reference = torch.load(uninterrupted(), map_location="cpu", weights_only=True)
    resumed = torch.load(result, map_location="cpu", weights_only=True)
    assert resumed["global_step"] == reference["global_step"] == MAX_STEPS
    assert _batches(result) == _batches(uninterrupted()), "the resumed run drew other training batches"
    _assert_equal(resumed["state_dict"], reference["state_dict"], "state_dict")
    _assert_equal(resumed["optimizer"], reference["optimizer"], "optimizer")
    _assert_equal(resumed["lr_scheduler"], reference["lr_scheduler"], "lr_scheduler")


@pytest.mark.parametrize("case", list(CASES))
def test_sigkill_then_resume_reaches_the_same_weights(case, tiny_data, tmp_path, uninterrupted):
    kill_at, extra = CASES[case]
    _kill_resume_compare(case, kill_at, extra, tiny_data, tmp_path, uninterrupted)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(SLOW_CASES))
def test_sigkill_then_resume_slow_cases(case, tiny_data, tmp_path, uninterrupted):
    kill_at, extra = SLOW_CASES[case]
    _kill_resume_compare(case, kill_at, extra, tiny_data, tmp_path, uninterrupted)


@pytest.mark.slow
def test_without_exact_resume_the_runs_differ(tiny_data, tmp_path, uninterrupted):
    """The control: Lightning alone restarts the epoch's data and the RNG, so the weights differ
    (this is what the test above would catch)."""
    out, result = tmp_path / "run", tmp_path / "final.pt"
    extra = ["callbacks.model_checkpoint.every_n_train_steps=1", "callbacks.exact_resume=null"]
    _run(tiny_data, out, 3, None, result, extra, expect_kill=True)
    _run(tiny_data, out, -1, out / "checkpoints" / "last.ckpt", result, extra)
    reference = torch.load(uninterrupted(), map_location="cpu", weights_only=True)
    resumed = torch.load(result, map_location="cpu", weights_only=True)
    assert _batches(result) != _batches(uninterrupted())
    assert any(not torch.equal(resumed["state_dict"][k], v) for k, v in reference["state_dict"].items())
