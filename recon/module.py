"""The LightningModule: single-view mesh reconstruction supervised through a renderer.

Built from plain settings (dicts), all saved as hyper-parameters, so
``ReconstructionModule.load_from_checkpoint(path)`` restores the whole model.

Training step (REFERENCE section 3): both images of a pair are reconstructed, each mesh is
rendered from both cameras (aa, ba, ab, bb) and compared with the ground-truth alpha by the
soft IoU loss; Laplacian and flatten regularizers; for the colour model (``decoder.
predict_colors``) an L1 loss between the rendered colour and the image's colour. The
learning rate and the renderer's ``sigma`` (when it has one) decay by ``gamma`` at the
milestones. Validation and test voxelize the predictions and log 3D IoU per class
(``{stage}/iou/{class}``) and the mean over classes (``{stage}/iou/mean``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch

import renderers
from recon.evaluation.iou import IoUAccumulator, mesh_iou
from recon.losses import FlattenLoss, LaplacianLoss, color_loss, silhouette_iou_loss, target_color_on_black
from recon.models.build import build_network
from recon.models.network import MeshPrediction
from recon.schedules import step_decay

__all__ = ["ReconstructionModule"]


def _plain(value: Any) -> Any:
    """OmegaConf containers -> plain dicts/lists (safe to pickle into checkpoints)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf  # noqa: PLC0415
    except ImportError:  # pragma: no cover
        return value
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


class ReconstructionModule(pl.LightningModule):
    """Image -> deformed sphere, trained through a differentiable renderer.

    encoder: ``{"name": "conv"|"resnet", ...}`` (:func:`recon.models.build.build_encoder`).
    decoder: keyword arguments of :class:`recon.models.MeshDecoder`.
    renderer: ``{"name": "softras"|..., **options}`` for :func:`renderers.create`.
    optimizer: ``{"lr", "betas", "weight_decay"}`` (Adam).
    lr_schedule / sigma_schedule: ``{"milestones": [steps], "gamma": g}`` or ``None``.
    loss: weights ``{"laplacian", "flatten", "color"}``.
    category_names: class names for the logged IoU keys (else taken from the datamodule).
    """

    def __init__(self, encoder: Mapping[str, Any] | None = None, decoder: Mapping[str, Any] | None = None,
                 renderer: Mapping[str, Any] | None = None, optimizer: Mapping[str, Any] | None = None,
                 lr_schedule: Mapping[str, Any] | None = None, sigma_schedule: Mapping[str, Any] | None = None,
                 loss: Mapping[str, Any] | None = None, category_names: Sequence[str] | None = None) -> None:
        super().__init__()
        settings = {k: _plain(v) for k, v in dict(
            encoder=encoder or {"name": "conv"}, decoder=decoder or {}, renderer=renderer or {"name": "softras"},
            optimizer=optimizer or {}, lr_schedule=lr_schedule, sigma_schedule=sigma_schedule, loss=loss or {},
            category_names=list(category_names) if category_names else None).items()}
        self.save_hyperparameters(settings)
        self.net = build_network(self.hparams.encoder, self.hparams.decoder)
        render_options = dict(self.hparams.renderer)
        render_name = render_options.pop("name", "softras")
        render_options["silhouette_only"] = not self.net.decoder.predicts_colors
        self.renderer = renderers.create(render_name, **render_options)
        self.initial_sigma = getattr(self.renderer.options, "sigma", None)
        faces = self.net.faces
        self.laplacian_loss = LaplacianLoss(faces, self.net.decoder.num_vertices)
        self.flatten_loss = FlattenLoss(faces)
        weights = {"laplacian": 5e-3, "flatten": 5e-4, "color": 1.0}
        weights.update(self.hparams.loss)
        self.loss_weights = weights
        self._iou: dict[str, IoUAccumulator] = {}

    # ------------------------------------------------------------------ prediction
    def forward(self, images: torch.Tensor) -> MeshPrediction:
        """``images (B, 4, 64, 64)`` -> :class:`MeshPrediction`."""
        return self.net(images)

    def render(self, prediction: MeshPrediction, eye: torch.Tensor) -> torch.Tensor:
        """``(B, 4, H, W)`` renders of the predictions from ``eye (B, 3)``."""
        return self.renderer(prediction.vertices, prediction.faces, eye, prediction.colors)

    # ------------------------------------------------------------------ training
    def training_losses(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """All loss terms of a pair batch (see the module docstring) and their weighted ``total``."""
        images = torch.cat([batch["images_a"], batch["images_b"]])
        prediction = self.net(images)
        eye = torch.cat([batch["eye_a"], batch["eye_a"], batch["eye_b"], batch["eye_b"]])
        vertices = prediction.vertices.repeat(2, 1, 1)  # (a, b, a, b) seen from (a, a, b, b)
        colors = prediction.colors.repeat(2, 1, 1) if prediction.colors is not None else None
        rendered = self.renderer(vertices, prediction.faces, eye, colors)
        targets = torch.cat([batch["images_a"], batch["images_a"], batch["images_b"], batch["images_b"]])
        losses = {"silhouette": silhouette_iou_loss(rendered[:, 3], targets[:, 3]),
                  "laplacian": self.laplacian_loss(prediction.vertices),
                  "flatten": self.flatten_loss(prediction.vertices)}
        total = losses["silhouette"] + self.loss_weights["laplacian"] * losses["laplacian"] \
            + self.loss_weights["flatten"] * losses["flatten"]
        if colors is not None:
            losses["color"] = color_loss(rendered[:, :3], target_color_on_black(targets))
            total = total + self.loss_weights["color"] * losses["color"]
        losses["total"] = total
        return losses

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        schedule = self.hparams.sigma_schedule
        if schedule and self.initial_sigma is not None:
            self.renderer.options.sigma = step_decay(self.initial_sigma, self.global_step,
                                                     schedule["milestones"], schedule["gamma"])

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        losses = self.training_losses(batch)
        batch_size = batch["images_a"].shape[0]
        self.log_dict({f"train/{k}": v.detach() for k, v in losses.items()}, batch_size=batch_size,
                      prog_bar=False, on_step=True, on_epoch=False)
        self.log("train/loss", losses["total"].detach(), prog_bar=True, batch_size=batch_size)
        if self.initial_sigma is not None:
            self.log("train/sigma", float(self.renderer.options.sigma), batch_size=batch_size)
        return losses["total"]

    def configure_optimizers(self) -> Any:
        opt = {"lr": 1e-4, "betas": (0.9, 0.999), "weight_decay": 0.0}
        opt.update(self.hparams.optimizer)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=opt["lr"], betas=tuple(opt["betas"]),
                                     weight_decay=opt["weight_decay"])
        schedule = self.hparams.lr_schedule
        if not schedule:
            return optimizer
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(schedule["milestones"]),
                                                         gamma=schedule["gamma"])
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ------------------------------------------------------------------ evaluation
    def category_names(self) -> list[str]:
        if self.hparams.category_names:
            return list(self.hparams.category_names)
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is not None and hasattr(datamodule, "category_names"):
            return list(datamodule.category_names)
        raise RuntimeError("category names unknown: pass category_names or train with a ShapeNetDataModule")

    def _evaluate(self, batch: Mapping[str, torch.Tensor], stage: str) -> None:
        if stage not in self._iou:
            self._iou[stage] = IoUAccumulator(self.category_names())
        prediction = self.net(batch["images"])
        iou = mesh_iou(prediction.vertices.detach().float().cpu(), prediction.faces.cpu(), batch["voxels"])
        self._iou[stage].update(iou, batch["category"])

    def _log_iou(self, stage: str) -> dict[str, float]:
        accumulator = self._iou.pop(stage, None)
        if accumulator is None:
            return {}
        sums = self.trainer.strategy.reduce(accumulator.sums.to(self.device), reduce_op="sum")
        counts = self.trainer.strategy.reduce(accumulator.counts.to(self.device), reduce_op="sum")
        accumulator.sums, accumulator.counts = sums.double().cpu(), counts.double().cpu()
        metrics = accumulator.as_dict(f"{stage}/iou")
        # Every rank holds the same reduced values, so Lightning's mean over ranks keeps them.
        self.log_dict(metrics, sync_dist=True)
        return metrics

    def validation_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_iou("val")

    def test_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._log_iou("test")
