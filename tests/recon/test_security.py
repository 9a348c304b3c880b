"""Nothing a checkpoint, weights file or config contains can run code (recon/safe_load.py,
recon/checkpoint_io.py, recon/safe_instantiate.py)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from recon.safe_instantiate import DisallowedTargetError, check_targets, instantiate
from recon.safe_load import UnsafeCheckpointError
from tests.recon.conftest import compose, tiny_overrides

ROOT = Path(__file__).resolve().parents[2]


class _Payload:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def evil(tmp_path):
    """``(checkpoint, marker)``: a checkpoint-shaped file whose unpickling creates ``marker``."""
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {}, "callbacks": _Payload(marker)}, path)
    return path, marker


def test_the_payload_is_live(evil):
    """The control: a plain torch.load(weights_only=False) does run it (in a child process)."""
    path, marker = evil
    subprocess.run([sys.executable, "-c", f"import torch; torch.load({str(path)!r}, weights_only=False)"],
                   check=True, capture_output=True)
    assert marker.exists()


@pytest.fixture(autouse=True)
def _force_unsafe_default(monkeypatch):
    """Even with torch told to default to full unpickling, our loads stay weights-only."""
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")


def _refused(error: pytest.ExceptionInfo, path: Path) -> None:
    message = str(error.value)
    assert isinstance(error.value, UnsafeCheckpointError), message
    assert str(path) in message and "refusing to load" in message and "posix.system" in message
    assert "Nothing from it was executed" in message


def test_recon_eval_refuses_it(evil, tmp_path):
    from recon.eval import evaluate

    path, marker = evil
    cfg = compose("eval", [f"ckpt_path={path}", f"paths.output_dir={tmp_path / 'eval'}", "extras.print_config=false"])
    with pytest.raises(UnsafeCheckpointError) as error:
        evaluate(cfg)
    _refused(error, path)
    assert not marker.exists()


def test_recon_export_refuses_it(evil, tmp_path):
    from recon.export.cli import export

    path, marker = evil
    cfg = compose("export", [f"ckpt_path={path}", f"output_dir={tmp_path / 'export'}", "split=test",
                             "extras.print_config=false"])
    with pytest.raises(UnsafeCheckpointError) as error:
        export(cfg)
    _refused(error, path)
    assert not marker.exists()


def test_training_resume_refuses_it(evil, tiny_data, tmp_path):
    from recon.train import train

    path, marker = evil
    cfg = compose("train", [*tiny_overrides(tiny_data, tmp_path / "run"), f"ckpt_path={path}", "test=false"])
    with pytest.raises(UnsafeCheckpointError) as error:
        train(cfg)
    _refused(error, path)
    assert not marker.exists()


def test_lightning_checkpoint_io_refuses_weights_only_false(evil):
    from recon.checkpoint_io import AtomicCheckpointIO

    path, marker = evil
    with pytest.raises(ValueError, match="weights_only=False"):
        AtomicCheckpointIO().load_checkpoint(path, weights_only=False)
    with pytest.raises(UnsafeCheckpointError):
        AtomicCheckpointIO().load_checkpoint(path, weights_only=None)
    assert not marker.exists()


def test_encoder_weights_loader_refuses_it(evil):
    from recon.models.encoders import ResNetEncoder, load_state_dict_file

    path, marker = evil
    with pytest.raises(UnsafeCheckpointError) as error:
        load_state_dict_file(path)
    assert "weights file" in str(error.value) and str(path) in str(error.value)
    with pytest.raises(UnsafeCheckpointError):
        ResNetEncoder(18, weights=path)
    assert not marker.exists()


# ---------------------------------------------------------------------- Hydra targets
def test_a_config_targeting_os_system_is_refused(tiny_data, tmp_path):
    from recon.train import train

    marker = tmp_path / "pwned"
    cfg = compose("train", [*tiny_overrides(tiny_data, tmp_path / "run"),
                            f"+callbacks.evil={{_target_:os.system,_args_:['touch {marker}']}}"])
    with pytest.raises(DisallowedTargetError) as error:
        train(cfg)
    message = str(error.value)
    assert "'os.system'" in message and "callbacks.evil._target_" in message and "allow_any_target=true" in message
    assert not marker.exists()
    assert not (tmp_path / "run" / "checkpoints").exists()  # refused before anything was built


def test_eval_data_target_is_checked(tmp_path):
    from recon.eval import evaluate

    cfg = compose("eval", ["ckpt_path=/nonexistent.ckpt", "data._target_=subprocess.call",
                           f"paths.output_dir={tmp_path}", "extras.print_config=false"])
    with pytest.raises(DisallowedTargetError, match=r"'subprocess\.call' \(at data\._target_\)"):
        evaluate(cfg)


@pytest.mark.parametrize("target", ["builtins.eval", "torch.hub.load", "torch.load", "hydra.utils.call",
                                    "torch.utils.cpp_extension.load_inline", "os.system", "recon_evil.x",
                                    "torchx.run"])
def test_denied_targets(target, monkeypatch):
    monkeypatch.delenv("RECON_ALLOW_ANY_TARGET", raising=False)
    with pytest.raises(DisallowedTargetError):
        check_targets(OmegaConf.create({"a": {"b": [{"_target_": target}]}}))


def test_allowed_targets_and_opt_in(monkeypatch):
    monkeypatch.delenv("RECON_ALLOW_ANY_TARGET", raising=False)
    check_targets(OmegaConf.create({"_target_": "pytorch_lightning.callbacks.ModelCheckpoint",
                                    "x": {"_target_": "recon.nan_guard.NonFiniteGuard"}}))
    other = OmegaConf.create({"_target_": "collections.OrderedDict"})
    with pytest.raises(DisallowedTargetError):
        instantiate(other)
    assert instantiate(other, root=OmegaConf.create({"allow_any_target": True})) == {}
    monkeypatch.setenv("RECON_ALLOW_ANY_TARGET", "1")
    assert instantiate(other) == {}


def test_every_instantiate_in_recon_goes_through_the_guard():
    offenders = []
    for file in (ROOT / "recon").rglob("*.py"):
        if file.name == "safe_instantiate.py":
            continue
        text = file.read_text()
        if re.search(r"from hydra\.utils import[^\n]*\binstantiate\b|hydra\.utils\.instantiate|\bcall\(", text):
            offenders.append(str(file.relative_to(ROOT)))
    assert not offenders, offenders


def test_no_shell_commands_are_built():
    """No shell in recon/ or scripts/: no os.system/os.popen, no shell=True, no string commands."""
    offenders = []
    pattern = re.compile(r"os\.system\(|os\.popen\(|shell\s*=\s*True|subprocess\.\w+\(\s*f?['\"]")
    for folder in ("recon", "scripts"):
        for file in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(file.read_text().splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
