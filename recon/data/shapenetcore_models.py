"""Reading ShapeNetCore (v1 or v2) 3D models and split lists: the input of the converter
(:mod:`recon.data.convert`), which renders them into the ShapeNet-renders format. (The
renders themselves are read by :mod:`recon.data.render_layouts`.)

Layouts: v1 ``{root}/{synset}/{model}/model.obj``; v2
``{root}/{synset}/{model}/models/model_normalized.obj``. Either may reference an ``.mtl``
with several materials; each material's diffuse colour (or its texture, averaged per
face through the UVs) becomes the colour of its faces.

Split lists (``--splits``), any of:

* ShapeNet's official CSV (``all.csv``: ``id,synsetId,subSynsetId,modelId,split``);
* a folder of ``{synset}_{split}.lst`` files (one model id per line);
* a folder of ``{split}.lst`` files (lines ``synset/model``).
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from recon.data.mesh import ColoredMesh, normalize_mesh

DEFAULT_COLOR = (0.7, 0.7, 0.7)


def model_path(root: str | os.PathLike, synset: str, model: str) -> Path:
    """The ``.obj`` of a model, v2 layout first, then v1."""
    base = Path(root) / synset / model
    for cand in (base / "models" / "model_normalized.obj", base / "model.obj"):
        if cand.is_file():
            return cand
    raise FileNotFoundError(f"{base}: no models/model_normalized.obj (v2) or model.obj (v1)")


def read_splits(path: str | os.PathLike) -> dict[str, dict[str, list[str]]]:
    """``{split: {synset: [model ids in file order]}}`` from a CSV or a folder of lists."""
    path = Path(path)
    out: dict[str, dict[str, list[str]]] = {}

    def add(split: str, synset: str, model: str) -> None:
        out.setdefault(split, {}).setdefault(synset, []).append(model)

    if path.is_file() and path.suffix == ".csv":
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            need = {"synsetId", "modelId", "split"}
            if not reader.fieldnames or not need <= set(reader.fieldnames):
                raise ValueError(f"{path}: CSV needs the columns {sorted(need)}, has {reader.fieldnames}")
            for row in reader:
                add(row["split"].strip(), row["synsetId"].strip().zfill(8), row["modelId"].strip())
    elif path.is_dir():
        files = sorted(path.glob("*.lst"))
        if not files:
            raise FileNotFoundError(f"{path}: no .lst split files")
        for fp in files:
            stem = fp.stem
            lines = [ln.strip() for ln in fp.read_text().splitlines() if ln.strip()]
            if "_" in stem:
                synset, split = stem.split("_", 1)
                for ln in lines:
                    add(split, synset, ln)
            else:
                for ln in lines:
                    parts = ln.replace(",", "/").replace(" ", "/").split("/")
                    if len(parts) != 2:
                        raise ValueError(f"{fp}: expected 'synset/model' lines, got {ln!r}")
                    add(stem, parts[0], parts[1])
    else:
        raise FileNotFoundError(f"{path}: split lists must be a .csv file or a folder of .lst files")
    return out


def _face_colors(geom) -> np.ndarray:
    """``(F,3)`` float colours of one trimesh geometry from its material/texture/colours."""
    n = len(geom.faces)
    vis = getattr(geom, "visual", None)
    try:
        if vis is not None and vis.kind == "face":
            return np.asarray(vis.face_colors, dtype=np.float32)[:, :3] / 255.0
        if vis is not None and vis.kind == "texture":
            vis = vis.to_color()  # samples the texture at the UVs, or the material colour
        if vis is not None and vis.kind == "vertex":
            vc = np.asarray(vis.vertex_colors, dtype=np.float32)[:, :3] / 255.0
            return vc[np.asarray(geom.faces)].mean(1)
        mat = getattr(getattr(geom, "visual", None), "material", None)
        if mat is not None and getattr(mat, "main_color", None) is not None:
            return np.tile(np.asarray(mat.main_color, dtype=np.float32)[:3] / 255.0, (n, 1))
    except Exception:  # noqa: BLE001 - a broken material must not lose the geometry
        pass
    return np.tile(np.asarray(DEFAULT_COLOR, dtype=np.float32), (n, 1))


def load_model(path: str | os.PathLike) -> ColoredMesh:
    """Load an ``.obj`` (all materials), colour faces per material and normalise it
    (centred, largest side 1). Raises ``ValueError`` naming the file when it has no faces."""
    import trimesh  # noqa: PLC0415

    path = Path(path)
    try:
        scene = trimesh.load(str(path), force="scene", process=False)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"{path}: cannot load mesh ({type(exc).__name__}: {exc})") from exc
    parts = []
    for geom in scene.dump(concatenate=False) if hasattr(scene, "dump") else [scene]:
        if not hasattr(geom, "faces") or len(geom.faces) == 0:
            continue
        parts.append(ColoredMesh(np.asarray(geom.vertices), np.asarray(geom.faces), _face_colors(geom)))
    if not parts:
        raise ValueError(f"{path}: mesh has no faces")
    mesh = ColoredMesh.concatenate(parts)
    return normalize_mesh(mesh)
