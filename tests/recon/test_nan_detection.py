"""NaN/Inf losses and gradients stop training with the step and the batch's objects
(recon/nan_guard.py), without a host sync per step."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from recon.module import ReconstructionModule
from recon.nan_guard import NonFiniteGuard, NonFiniteTrainingError
from recon.train import train
from tests.recon.conftest import compose, tiny_overrides

BAD_STEP = 2  # epoch 1, batch 0 with 2 batches per epoch


def _inject(monkeypatch, kind: str) -> dict:
    """Makes step BAD_STEP's loss NaN (``kind="loss"``) or its gradients Inf (``"gradient"``);
    returns what that batch was."""
    seen: dict = {}
    original = ReconstructionModule.training_losses

    def training_losses(self, batch):
        losses = original(self, batch)
        if self.global_step == BAD_STEP and not seen:
            seen.update(object_index=batch["object_index"].tolist(), category=batch["category"].tolist())
            if kind == "loss":
                losses["total"] = losses["total"] * float("nan")
            else:
                weight = next(p for p in self.net.parameters() if p.requires_grad)
                weight.register_hook(lambda grad: grad * float("inf"))  # loss stays finite
        return losses

    monkeypatch.setattr(ReconstructionModule, "training_losses", training_losses)
    return seen


@pytest.mark.parametrize("kind", ["loss", "gradient"])
def test_non_finite_step_is_reported_with_its_objects(kind, monkeypatch, tiny_data, tmp_path):
    seen = _inject(monkeypatch, kind)
    # check_every=100: the host looks only at the epoch end / before the checkpoint, 0-1 steps late
    cfg = compose("train", [*tiny_overrides(tiny_data, tmp_path), "trainer.max_steps=6", "test=false",
                            "callbacks.non_finite_guard.check_every=100", "callbacks.prediction_previews=null"])
    with pytest.raises(NonFiniteTrainingError) as caught:
        train(cfg)
    error = caught.value
    message = str(error)
    assert f"non-finite {kind}" in message and f"at global step {BAD_STEP} (epoch 1, batch 0)" in message
    assert f"object_index {seen['object_index']}" in message and f"category {seen['category']}" in message
    assert (error.step, error.what, error.object_index, error.category) == (
        BAD_STEP, kind, seen["object_index"], seen["category"])
    if kind == "loss":
        assert "loss (nan)" in message
    # no checkpoint was written from the poisoned weights
    last = tmp_path / "checkpoints" / "last.ckpt"
    if last.exists():
        assert torch.load(last, weights_only=True)["global_step"] <= BAD_STEP


def test_finite_training_passes(tiny_data, tmp_path):
    cfg = compose("train", [*tiny_overrides(tiny_data, tmp_path), "trainer.max_steps=2", "test=false",
                            "callbacks.non_finite_guard.check_every=1", "callbacks.prediction_previews=null"])
    _, objects = train(cfg)
    assert objects["trainer"].global_step == 2
    assert any(isinstance(c, NonFiniteGuard) for c in objects["trainer"].callbacks)


def _stub_trainer(step: int) -> SimpleNamespace:
    return SimpleNamespace(global_step=step, current_epoch=0, log_every_n_steps=10**9, world_size=1,
                           precision_plugin=SimpleNamespace(scaler=None))


def test_records_without_syncing_and_checks_in_one_go(monkeypatch):
    """Between checks the guard never copies to the host (``Tensor.item``/``cpu``/``bool`` would)."""
    module = torch.nn.Linear(8, 4)
    guard = NonFiniteGuard(check_every=1000)
    syncs = []
    for name in ("item", "cpu", "tolist", "__bool__"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, *a, _o=original, _n=name, **k: (syncs.append(_n),
                                                                                                 _o(self, *a, **k))[1])
    batch = {"object_index": torch.tensor([3, 1]), "category": torch.tensor([0, 1])}
    for step in range(5):
        trainer = _stub_trainer(step)
        guard.on_train_batch_start(trainer, module, batch, step)
        loss = module(torch.randn(2, 8)).square().mean() * (float("inf") if step == 3 else 1.0)
        guard.on_before_backward(trainer, module, loss)
        loss.backward()
        guard.on_before_optimizer_step(trainer, module, None)
        guard.on_train_batch_end(trainer, module, None, batch, step)
        module.zero_grad()
    assert syncs == [], f"host syncs between checks: {syncs}"
    monkeypatch.undo()
    with pytest.raises(NonFiniteTrainingError, match=r"non-finite loss \(inf\) at global step 3 .*object_index \[3, 1\]"):
        guard.check(_stub_trainer(5))


