"""Multi-process training, sweeps and the wandb logger, run as a user would (subprocesses)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from recon.hydra_utils import configure_wandb_mode
from recon.train import train
from tests.recon.conftest import compose, tiny_overrides

REPO = Path(__file__).resolve().parents[2]


def run_train(args: list[str], timeout: int = 420) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "recon.train", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_ddp_trains_with_two_cpu_processes(tiny_data, tmp_path):
    result = run_train([*tiny_overrides(tiny_data, tmp_path), "trainer=ddp_cpu", "test=false"])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "MEMBER: 2/2" in output
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_sweep_refuses_multiprocess_ddp(tiny_data, tmp_path):
    overrides = [o for o in tiny_overrides(tiny_data, tmp_path) if not o.startswith("paths.output_dir")]
    result = run_train(["-m", *overrides, "trainer=ddp_cpu", "model.optimizer.lr=1e-4,2e-4"], timeout=120)
    assert result.returncode != 0
    assert "cannot run inside a -m sweep" in result.stdout + result.stderr


def test_optuna_sweep_runs_two_trials(tiny_data, tmp_path):
    overrides = [o for o in tiny_overrides(tiny_data, tmp_path) if not o.startswith("paths.output_dir")]
    result = run_train(["-m", "hparams_search=softras_optuna", *overrides, "hydra.sweeper.n_trials=2",
                        "hydra.sweeper.sampler.n_startup_trials=2"])
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    summaries = list((tmp_path / "logs").rglob("optimization_results.yaml"))
    assert len(summaries) == 1
    best = yaml.safe_load(summaries[0].read_text())
    assert 0.0 <= best["best_value"] <= 1.0 and "model.optimizer.lr" in best["best_params"]
    assert len(list(summaries[0].parent.glob("[0-9]*/checkpoints/last.ckpt"))) == 2


def test_wandb_offline_run_writes_its_files(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = compose("train", [*tiny_overrides(tiny_data, tmp_path), "logger=wandb", "test=false", "trainer.max_steps=2"])
    train(cfg)
    import wandb

    wandb.finish()
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert list(runs[0].glob("*.wandb"))
    media = list(runs[0].rglob("*.png")) + list(runs[0].rglob("*.glb"))
    assert media, "the validation previews (image grid, meshes) were not logged"


def test_wandb_mode_defaults_to_offline_without_credentials(tmp_path, monkeypatch):
    cfg = compose("train", ["logger=wandb", f"paths.output_dir={tmp_path}"])
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    configure_wandb_mode(cfg)
    assert os.environ["WANDB_MODE"] == "offline"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    configure_wandb_mode(cfg)
    assert os.environ["WANDB_MODE"] == "disabled"
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    configure_wandb_mode(cfg)
    assert "WANDB_MODE" not in os.environ
