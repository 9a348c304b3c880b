"""The LightningModule: single-view mesh reconstruction supervised through a renderer.

Built from plain settings (dicts), all saved as hyper-parameters, so
``ReconstructionModule.load_from_checkpoint(path)`` restores the whole model.

Training step (REFERENCE section 3): both images of a pair are reconstructed, each mesh is
rendered from both cameras (aa, ba, ab, bb) and compared with the ground-truth alpha by the
soft IoU loss; Laplacian and flatten regularizers (a term whose weight is 0 is not computed:
NMR's multi-class recipe has none); for the colour model (``decoder.predict_colors``) an L1
loss between the rendered colour and the image's colour. The learning rate and the
renderer's ``sigma`` (when it has one) decay by ``gamma`` at the milestones; the centroid
head may train at a fraction of the learning rate (``optimizer.centroid_lr_scale``, 0.1 in
NMR's recipe).

Precision: under ``trainer.precision=bf16-mixed`` (or 16-mixed) the network runs in
autocast, but the renderer receives float32 vertices and every loss is computed in float32
with autocast off. The renderers compute in float32 anyway, and the losses are sums over 4096
pixels or 1920 edges, which bfloat16's 8-bit mantissa would round coarsely.

Validation and test voxelize the predictions and aggregate 3D IoU with one
:class:`recon.evaluation.iou.ClassIoU` metric per stage (summed over processes), logged per
class (``{stage}/iou/{class}``) with the mean over classes (``{stage}/iou/mean``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch

import renderers
from recon.data.rgb_convention import decode_color_on_black
from recon.evaluation.iou import ClassIoU, mesh_iou
from recon.losses import FlattenLoss, LaplacianLoss, color_loss, silhouette_iou_loss
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
    optimizer: ``{"lr", "betas", "weight_decay", "centroid_lr_scale"}`` (Adam; the centroid
        head's weight and bias train at ``centroid_lr_scale * lr``, default 1).
    lr_schedule / sigma_schedule: ``{"milestones": [steps], "gamma": g}`` or ``None``.
    loss: weights ``{"laplacian", "flatten", "color"}`` and ``iou_eps`` (added to the soft IoU's
        union; 1e-6 as in SoftRas, 0 in NMR).
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
        weights = {"laplacian": 5e-3, "flatten": 5e-4, "color": 1.0, "iou_eps": 1e-6}
        weights.update(self.hparams.loss)
        unknown = sorted(set(weights) - {"laplacian", "flatten", "color", "iou_eps"})
        if unknown:
            raise ValueError(f"unknown loss settings {unknown}; known: laplacian, flatten, color, iou_eps")
        self.loss_weights = weights
        self._iou: dict[str, ClassIoU] = {}
        # recon-eval also logs "{stage}/samples/{class}" (read back from any strategy).
        self.log_sample_counts = False

    # ------------------------------------------------------------------ prediction
    def forward(self, images: torch.Tensor) -> MeshPrediction:
        """``images (B, 4, 64, 64)`` -> :class:`MeshPrediction`."""
        return self.net(images)

    def render(self, prediction: MeshPrediction, eye: torch.Tensor) -> torch.Tensor:
        """``(B, 4, H, W)`` renders of the predictions from ``eye (B, 3)``."""
        return self.renderer(prediction.vertices, prediction.faces, eye, prediction.colors)

    # ------------------------------------------------------------------ training
    def training_losses(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """All loss terms of a pair batch (see the module docstring) and their weighted ``total``;
        every term is float32 whatever the autocast precision of the network."""
        images = torch.cat([batch["images_a"], batch["images_b"]])
        prediction = self.net(images)
        with torch.autocast(device_type=self.device.type, enabled=False):
            return self._losses_float32(prediction, batch)

    def _losses_float32(self, prediction: MeshPrediction, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        predicted = prediction.vertices.float()
        eye = torch.cat([batch["eye_a"], batch["eye_a"], batch["eye_b"], batch["eye_b"]]).float()
        vertices = predicted.repeat(2, 1, 1)  # (a, b, a, b) seen from (a, a, b, b)
        colors = prediction.colors.float().repeat(2, 1, 1) if prediction.colors is not None else None
        rendered = self.renderer(vertices, prediction.faces, eye, colors)
        targets = torch.cat([batch["images_a"], batch["images_a"], batch["images_b"], batch["images_b"]]).float()
        weights = self.loss_weights
        losses = {"silhouette": silhouette_iou_loss(rendered[:, 3], targets[:, 3], eps=weights["iou_eps"])}
        total = losses["silhouette"]
        for name, term in (("laplacian", self.laplacian_loss), ("flatten", self.flatten_loss)):
            if weights[name] != 0:
                losses[name] = term(predicted)
                total = total + weights[name] * losses[name]
        if colors is not None:
            losses["color"] = color_loss(rendered[:, :3], decode_color_on_black(targets))
            total = total + weights["color"] * losses["color"]
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
        opt = {"lr": 1e-4, "betas": (0.9, 0.999), "weight_decay": 0.0, "centroid_lr_scale": 1.0}
        opt.update(self.hparams.optimizer)
        scale = float(opt["centroid_lr_scale"])
        groups: Any = self.net.parameters()  # one group (what checkpoints before the option hold)
        if scale != 1.0:  # NMR (models.py): linear_centroids.W.lr = linear_centroids.b.lr = centroid_lr
            centroid = list(self.net.decoder.centroid_head.parameters())
            ids = {id(p) for p in centroid}
            groups = [{"params": [p for p in self.net.parameters() if id(p) not in ids], "lr": opt["lr"]},
                      {"params": centroid, "lr": opt["lr"] * scale}]
        optimizer = torch.optim.Adam(groups, lr=opt["lr"], betas=tuple(opt["betas"]),
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
        raise RuntimeError("category names unknown: pass category_names or train with a RendersDataModule")

    def _start_evaluation(self, stage: str) -> None:
        # At the epoch's start, not at its first batch: a process with no batch must still take
        # part in the metric's all-reduce at the end.
        self._iou[stage] = ClassIoU(self.category_names()).to(self.device)

    def _evaluate(self, batch: Mapping[str, torch.Tensor], stage: str) -> None:
        if stage not in self._iou:
            self._start_evaluation(stage)
        prediction = self.net(batch["images"])
        iou = mesh_iou(prediction.vertices.detach().float().cpu(), prediction.faces.cpu(), batch["voxels"])
        self._iou[stage].update(iou, batch["category"])

    def _log_iou(self, stage: str) -> dict[str, float]:
        metric = self._iou.pop(stage, None)
        if metric is None:
            return {}
        summary = metric.compute()  # summed over every process
        metrics = summary.as_dict(f"{stage}/iou")
        if self.log_sample_counts:
            metrics.update({f"{stage}/samples/{k}": float(n) for k, n in summary.counts.items()})
        # Every rank holds the same summed values, so Lightning's mean over ranks keeps them.
        self.log_dict(metrics, sync_dist=True)
        return metrics

    def on_validation_epoch_start(self) -> None:
        self._start_evaluation("val")

    def on_test_epoch_start(self) -> None:
        self._start_evaluation("test")

    def validation_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_iou("val")

    def test_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._log_iou("test")
