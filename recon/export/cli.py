"""Export entry point (Hydra): reconstructions of dataset items or of the user's images as
meshes, with preview pictures. ``recon-export`` or ``python scripts/export.py``::

    recon-export ckpt_path=CKPT data=synthetic split=test objects=[0,3] views=[0,6]
    recon-export ckpt_path=CKPT data=synthetic split=test            # every object of the split
    recon-export ckpt_path=CKPT inputs=[chair.png,lamp.jpg] masks=[null,lamp_mask.png]

Outputs under ``output_dir`` (default: the Hydra run folder ``logs/export/runs/<time>``):
``<category>/<object>_v<view>.{obj,ply,glb}`` for dataset items (``object`` = index in the
split, as in the evaluation), ``inputs/<image name>.{obj,...}`` for the user's images,
``..._preview.png`` and ``..._turntable.gif`` beside them (``previews=true``), and
``manifest.json`` listing every reconstruction and its files. Vertex colours are written
when the model predicts them. Settings: ``configs/export.yaml``.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from recon.checkpoints import load_module, resolve_device
from recon.data.categories import SPLITS
from recon.hydra_utils import CONFIG_DIR, print_config, set_project_root

__all__ = ["ExportItem", "image_items", "dataset_items", "export_items", "export",
           "main"]

log = logging.getLogger(__name__)


@dataclass
class ExportItem:
    """One reconstruction to export.

    ``name``: output path stem relative to the output folder (``synth-chair/0003_v00``).
    ``image``: the model input ``(4, 64, 64)`` float in [0, 1], dataset convention.
    ``ground_truth``: dataset images ``(N, 4, 64, 64)`` at the preview views, or ``None``.
    ``info``: what the manifest records about its source.
    """

    name: str
    image: torch.Tensor
    ground_truth: torch.Tensor | None = None
    info: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------- settings
def _as_list(value: Any, what: str) -> list | None:
    """``None``, a scalar or a (Omega)list -> a plain list (or ``None``)."""
    if value is None:
        return None
    if isinstance(value, (ListConfig, list, tuple)):
        return list(OmegaConf.to_container(value) if isinstance(value, ListConfig) else value)
    if isinstance(value, (str, int, os.PathLike)):
        return [value]
    raise ValueError(f"{what} must be a list, got {value!r}")


def _checkpoint_path(cfg: DictConfig) -> Path:
    if OmegaConf.is_missing(cfg, "ckpt_path") or not cfg.get("ckpt_path"):
        raise ValueError("ckpt_path is required: recon-export ckpt_path=PATH/TO/model.ckpt ... "
                         "(a checkpoint saved by recon-train: logs/<task>/runs/<date>_<time>/checkpoints/last.ckpt)")
    return Path(str(cfg.ckpt_path)).expanduser()


def _formats(value: Any) -> list[str]:
    from recon.export.meshes import MESH_FORMATS  # noqa: PLC0415

    formats = [str(f).lower().lstrip(".") for f in (_as_list(value, "formats") or [])]
    unknown = [f for f in formats if f not in MESH_FORMATS]
    if unknown:
        raise ValueError(f"unknown mesh format(s) {unknown}; formats must be a list from {list(MESH_FORMATS)}")
    return list(dict.fromkeys(formats))


# ---------------------------------------------------------------------- what to export
def image_items(inputs: Sequence[str | os.PathLike], masks: Sequence[str | os.PathLike | None] | None = None,
                size: int = 64) -> list[ExportItem]:
    """The user's images (and optional masks) -> items named ``inputs/<file stem>`` (a
    numeric suffix keeps names unique)."""
    from recon.export.images import load_images  # noqa: PLC0415

    images = load_images(inputs, masks, size)
    masks = list(masks) if masks is not None else [None] * len(images)
    items, used = [], set()
    for path, mask, image in zip(inputs, masks, images):
        stem = Path(path).stem or "image"
        name, k = stem, 1
        while name in used:
            k += 1
            name = f"{stem}_{k}"
        used.add(name)
        items.append(ExportItem(f"inputs/{name}", image, None,
                                {"source": "image", "image": str(path), "mask": str(mask) if mask else None}))
    return items


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")


def dataset_items(datamodule, split: str, objects: Sequence[int] | None, views: Sequence[int],
                  ground_truth_views: Sequence[int] | None = None) -> Iterator[ExportItem]:
    """Items of ``split`` (``train``/``val``/``test``) of a :class:`RendersDataModule`:
    each of ``objects`` (indices in the split, as the evaluation counts them; ``None`` =
    all) seen from each of ``views``, named ``<category>/<object:04d>_v<view:02d>``, with
    the dataset images at ``ground_truth_views`` attached. Loaded lazily."""
    from recon.data.cameras import NUM_VIEWS  # noqa: PLC0415
    from recon.data.categories import category_name  # noqa: PLC0415

    _check_split(split)
    views = [int(v) for v in views]
    if not views:
        raise ValueError("views is empty: give at least one dataset view, e.g. views=[0]")
    bad_views = [v for v in views if not 0 <= v < NUM_VIEWS]
    if bad_views:
        raise ValueError(f"views {bad_views} out of range: dataset views are 0..{NUM_VIEWS - 1}")
    renders = datamodule.renders(split)
    count = renders.num_objects
    objects = list(range(count)) if objects is None else [int(o) for o in objects]
    bad_objects = [o for o in objects if not 0 <= o < count]
    if bad_objects:
        raise ValueError(f"objects {bad_objects} out of range: split {split!r} has {count} objects (0..{count - 1})")
    extra = list(ground_truth_views or [])

    def generate() -> Iterator[ExportItem]:
        for obj in objects:
            c, local = renders.locate(obj)
            pictures = torch.from_numpy(renders.sources[c].images(local, views + extra)).float().div_(255.0)
            category = category_name(renders.categories[c])
            for i, view in enumerate(views):
                yield ExportItem(f"{category}/{obj:04d}_v{view:02d}", pictures[i],
                                 pictures[len(views):] if extra else None,
                                 {"source": "dataset", "split": split, "category": category,
                                  "synset": renders.categories[c], "object_index": obj, "view": view})

    return generate()


def _batches(items: Iterable[ExportItem], size: int) -> Iterator[list[ExportItem]]:
    batch: list[ExportItem] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# ---------------------------------------------------------------------- writing
@torch.no_grad()
def export_items(module, items: Iterable[ExportItem], output_dir: str | os.PathLike, formats: Sequence[str],
                 previews: bool = True, batch_size: int = 32, device: torch.device | None = None,
                 preview_options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Reconstructs ``items`` with ``module.net`` in batches and writes, for each, its mesh in
    every format (vertex colours when predicted) and, with ``previews``, its contact sheet and
    turntable (:func:`recon.export.previews.save_previews` with ``preview_options``).
    Returns one manifest record per item (``files`` relative to ``output_dir``)."""
    from recon.export.meshes import save_mesh  # noqa: PLC0415
    from recon.export.previews import preview_renderer, save_previews  # noqa: PLC0415

    output_dir = Path(output_dir)
    device = device or next(module.parameters()).device
    options = dict(preview_options or {})
    renderer = preview_renderer(options.get("image_size", 128), options.get("supersample", 2)) if previews else None
    records = []
    for batch in _batches(items, max(1, int(batch_size))):
        prediction = module.net(torch.stack([item.image for item in batch]).to(device))
        for i, item in enumerate(batch):
            vertices = prediction.vertices[i].float()
            colors = prediction.colors[i].float() if prediction.colors is not None else None
            stem = output_dir / item.name
            files = [save_mesh(stem.with_name(f"{stem.name}.{fmt}"), vertices, prediction.faces, colors)
                     for fmt in formats]
            if previews:
                files += list(save_previews(stem, item.image, vertices, prediction.faces, colors, item.ground_truth,
                                            renderer=renderer, **options).values())
            records.append({"name": item.name, **item.info, "vertices": int(vertices.shape[0]),
                            "faces": int(prediction.faces.shape[0]), "vertex_colors": colors is not None,
                            "files": [str(p.relative_to(output_dir)) for p in files]})
        log.info("exported %d reconstructions", len(records))
    return records


def _write_manifest(path: Path, checkpoint: Path, records: list[dict[str, Any]]) -> Path:
    from recon.atomic_io import write_text_atomic  # noqa: PLC0415

    text = json.dumps({"checkpoint": str(checkpoint), "items": records}, indent=2)
    return write_text_atomic(path, text)


def export(cfg: DictConfig) -> dict[str, Any]:
    """Runs one export job from the composed ``configs/export.yaml``; returns
    ``{"output_dir": Path, "manifest": Path, "items": [records]}``."""
    from recon.export.previews import PREVIEW_AZIMUTHS, dataset_views  # noqa: PLC0415
    from recon.safe_instantiate import check_targets, instantiate  # noqa: PLC0415

    check_targets(cfg, root=cfg)  # before anything is loaded or built
    checkpoint = _checkpoint_path(cfg)
    formats = _formats(cfg.get("formats"))
    previews = bool(cfg.get("previews", True))
    if not formats and not previews:
        raise ValueError("nothing to write: formats is empty and previews=false")
    inputs = _as_list(cfg.get("inputs"), "inputs")
    masks = _as_list(cfg.get("masks"), "masks")
    split = cfg.get("split")
    if inputs and split:
        raise ValueError(f"give either inputs=[...] (your images) or split={split} (dataset items), not both")
    if not inputs and not split:
        raise ValueError("nothing to export: pass inputs=[image.png,...] (optionally masks=[...]) for your own "
                         "images, or split=test [objects=[0,1]] [views=[0]] for dataset items")
    if masks and not inputs:
        raise ValueError("masks=[...] goes with inputs=[...]")
    if cfg.get("extras", {}).get("print_config"):
        print_config(cfg)
    if cfg.get("seed") is not None:
        torch.manual_seed(int(cfg.seed))

    output_dir = Path(str(cfg.output_dir)).expanduser()
    device = resolve_device(cfg.get("device", "auto"))
    module = load_module(checkpoint, device)
    azimuths = tuple(float(a) for a in (_as_list(cfg.get("preview_azimuths"), "preview_azimuths")
                                        or PREVIEW_AZIMUTHS))
    if inputs:
        items: Iterable[ExportItem] = image_items(inputs, masks)
    else:
        _check_split(str(split))
        datamodule = instantiate(cfg.data, root=cfg, where="data")
        datamodule.prepare_data(stages=[str(split)])  # decompresses only this split, if compressed
        known = set(module.hparams.get("category_names") or [])
        if known and not set(datamodule.category_names) <= known:
            log.warning("the model was trained on %s; the dataset also has %s", sorted(known),
                        sorted(set(datamodule.category_names) - known))
        views = _as_list(cfg.get("views"), "views")
        items = dataset_items(datamodule, str(split), _as_list(cfg.get("objects"), "objects"),
                              [0] if views is None else views,
                              dataset_views(azimuths) if previews else None)
    preview_options = {"azimuths": azimuths, "image_size": int(cfg.get("preview_size", 128)),
                       "supersample": int(cfg.get("preview_supersample", 2)),
                       "frames": int(cfg.get("turntable_frames", 24)),
                       "turntable": bool(cfg.get("turntable_frames", 24))}
    records = export_items(module, items, output_dir, formats, previews, int(cfg.get("batch_size", 32)), device,
                           preview_options)
    manifest = _write_manifest(output_dir / "manifest.json", checkpoint, records)
    colors = "with vertex colours" if module.net.decoder.predicts_colors else "no vertex colours (silhouette model)"
    print(f"recon-export: {len(records)} reconstruction(s) from {checkpoint}, {colors}")
    print(f"  meshes ({', '.join(formats) or 'none'}){' and previews' if previews else ''} in {output_dir}")
    for record in records[:10]:
        print(f"    {record['name']}: {', '.join(Path(f).name for f in record['files'])}")
    if len(records) > 10:
        print(f"    ... and {len(records) - 10} more")
    print(f"  manifest: {manifest}")
    return {"output_dir": output_dir, "manifest": manifest, "items": records}


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="export")
def _hydra_main(cfg: DictConfig) -> None:
    export(cfg)


def main() -> None:
    set_project_root()
    _hydra_main()


if __name__ == "__main__":
    main()
