"""Lightning callbacks: image grids and meshes of validation predictions."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from recon.data.rgb_convention import decode_color_on_black

__all__ = ["PredictionPreviews", "preview_grid"]

log = logging.getLogger(__name__)


def preview_grid(images: torch.Tensor, silhouettes: torch.Tensor, shaded: torch.Tensor) -> np.ndarray:
    """One row per sample: input colour, ground-truth alpha, predicted silhouette, predicted
    shaded render. ``images (N, 4, H, W)`` dataset RGBA, ``silhouettes (N, H, W)``,
    ``shaded (N, 3, H, W)`` -> ``(N*H, 4*W, 3)`` uint8. The input colour is shown on black,
    like the shaded render (:func:`recon.data.rgb_convention.decode_color_on_black`)."""
    gt_color = decode_color_on_black(images)
    gray = lambda x: x[:, None].expand(-1, 3, -1, -1)  # noqa: E731
    columns = [gt_color, gray(images[:, 3]), gray(silhouettes), shaded]
    rows = torch.cat([c.detach().float().cpu().clamp(0, 1) for c in columns], dim=3)  # (N, 3, H, 4W)
    grid = rows.permute(0, 2, 3, 1).reshape(-1, rows.shape[-1], 3)
    return (grid.numpy() * 255).round().astype(np.uint8)


class PredictionPreviews(pl.Callback):
    """After each validation epoch (not the sanity check): a grid of ``num_images`` validation
    inputs with their predicted silhouettes and shaded renders (from the input's camera), and
    ``log_meshes`` predicted meshes. Saved atomically (:mod:`recon.atomic_io`) under
    ``<run>/previews/`` and sent to the loggers that take media (wandb: images and ``Object3D``)."""

    def __init__(self, num_images: int = 8, log_meshes: int = 2, mesh_format: str = "glb") -> None:
        self.num_images = num_images
        self.log_meshes = log_meshes
        self.mesh_format = mesh_format
        self._batch: dict[str, torch.Tensor] | None = None
        self._renderer = None

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if batch_idx == 0 and not trainer.sanity_checking and trainer.is_global_zero:
            self._batch = {k: batch[k][: self.num_images] for k in ("images", "eye")}

    def _shaded_renderer(self):
        if self._renderer is None:
            from recon.export.previews import preview_renderer  # noqa: PLC0415

            self._renderer = preview_renderer(image_size=64, supersample=1)
        return self._renderer

    @torch.no_grad()
    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if self._batch is None or trainer.sanity_checking or not trainer.is_global_zero:
            return
        batch, self._batch = self._batch, None
        prediction = pl_module.net(batch["images"])
        colors = prediction.colors if prediction.colors is not None else torch.ones_like(prediction.vertices)
        renderer = self._shaded_renderer().to(prediction.vertices.device)
        shaded = renderer(prediction.vertices.float(), prediction.faces, batch["eye"].float(), colors.float())
        silhouettes = pl_module.render(prediction, batch["eye"])[:, 3]
        grid = preview_grid(batch["images"], silhouettes, shaded[:, :3])
        out = Path(trainer.default_root_dir) / "previews"
        step = trainer.global_step
        from recon.export.meshes import save_mesh  # noqa: PLC0415
        from recon.export.previews import write_png  # noqa: PLC0415

        write_png(out / f"step_{step:07d}.png", grid)  # atomic (recon.atomic_io), like every exporter
        mesh_paths = []

        for i in range(min(self.log_meshes, len(prediction.vertices))):
            mesh_paths.append(save_mesh(out / f"step_{step:07d}_mesh{i}.{self.mesh_format}", prediction.vertices[i],
                                        prediction.faces,
                                        prediction.colors[i] if prediction.colors is not None else None))
        for logger in trainer.loggers:
            if type(logger).__name__ == "WandbLogger":
                import wandb  # noqa: PLC0415

                logger.log_image(key="val/previews", images=[grid], step=step,
                                 caption=["input | gt alpha | predicted silhouette | predicted shaded"])
                if mesh_paths:
                    logger.log_metrics({f"val/mesh{i}": wandb.Object3D(str(p)) for i, p in enumerate(mesh_paths)},
                                       step=step)
