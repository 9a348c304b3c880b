"""trainer.precision=bf16-mixed end to end: the network in bfloat16 autocast, the renderer
given float32 vertices, every loss in float32, training and evaluation complete."""
from __future__ import annotations

import torch
from pytorch_lightning import Callback

from recon.train import train
from tests.recon.conftest import compose, tiny_overrides


class DtypeSpy(Callback):
    """Records the dtypes of the decoder's offsets, the renderer's vertices and the loss."""

    def __init__(self) -> None:
        self.network, self.renderer, self.losses = set(), set(), set()

    def on_fit_start(self, trainer, pl_module) -> None:
        render_forward = pl_module.renderer.forward

        def render(vertices, *args, **kwargs):
            self.renderer.add(vertices.dtype)
            return render_forward(vertices, *args, **kwargs)

        pl_module.renderer.forward = render
        pl_module.net.decoder.offset_head.register_forward_hook(lambda m, i, out: self.network.add(out.dtype))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.add(outputs["loss"].dtype)


def test_bf16_mixed_trains_with_float32_renderer_inputs_and_losses(tiny_data, tmp_path):
    from recon import train as train_module

    spy = DtypeSpy()
    original = train_module.instantiate_callbacks
    train_module.instantiate_callbacks = lambda c: [*original(c), spy]
    try:
        metrics, objects = train(compose("train", [*tiny_overrides(tiny_data, tmp_path),
                                                   "trainer.precision=bf16-mixed", "test=false"]))
    finally:
        train_module.instantiate_callbacks = original
    assert objects["trainer"].global_step == 4
    assert torch.bfloat16 in spy.network  # autocast is on for the network
    assert spy.renderer == {torch.float32} and spy.losses == {torch.float32}
    assert 0.0 <= metrics["val/iou/mean"] <= 1.0


def test_losses_are_float32_under_autocast():
    from recon.module import ReconstructionModule
    from tests.recon.test_recipes import _pair_batch

    torch.manual_seed(0)
    module = ReconstructionModule(decoder={"predict_colors": True}, renderer={"name": "softras", "sigma": 1e-4},
                                  category_names=["a"])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = module.training_losses(_pair_batch(2))
    assert {k: v.dtype for k, v in losses.items()} == dict.fromkeys(losses, torch.float32)
    assert set(losses) == {"silhouette", "laplacian", "flatten", "color", "total"}
