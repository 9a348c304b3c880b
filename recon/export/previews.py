"""Preview pictures of predicted meshes: a PNG contact sheet and a turntable GIF.

Contact sheet (one per reconstruction), on a white background::

    input | mesh from azimuth 30 | 150 | 270           (elevation 30, distance 2.732)
          | ground truth at the same three views        (dataset items only)

The preview views are dataset views (azimuth ``a`` is view ``(-a / 15) mod 24``), so the
ground-truth row shows the real renders of the object from the same cameras. Meshes are
shaded (ambient + directional light from above) with their vertex colours, or white when
the model predicts none, rendered with a hard z-buffer and supersampled for smooth edges.
The turntable GIF circles the object at the same elevation and distance.

Every file is written atomically (:func:`recon.atomic_io.write_bytes_atomic`).
"""
from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from recon.atomic_io import write_bytes_atomic
from recon.data.cameras import AZIMUTH_STEP, DISTANCE, ELEVATION, NUM_VIEWS
from recon.data.rgb_convention import decode_color_on_white

__all__ = ["PREVIEW_AZIMUTHS", "preview_renderer", "dataset_views", "render_views", "renders_on_white",
           "dataset_images_on_white", "contact_sheet", "turntable_frames", "write_png", "write_gif",
           "save_previews"]

PREVIEW_AZIMUTHS: tuple[float, ...] = (30.0, 150.0, 270.0)
TURNTABLE_FRAMES = 24
_GUTTER = 2        # pixels between tiles
_CAPTION = 12      # height of the caption strip above the tiles
_GUTTER_GRAY = 200


def preview_renderer(image_size: int = 128, supersample: int = 2):
    """The shading renderer of the previews: SoftRas with hard (z-buffer) aggregation, as the
    training previews (:class:`recon.callbacks.PredictionPreviews`), rendering
    ``image_size * supersample`` pixels (averaged back down by :func:`render_views`)."""
    import renderers  # noqa: PLC0415

    return renderers.create("softras", image_size=int(image_size) * int(supersample), sigma=1e-6,
                            aggr_alpha="hard", aggr_rgb="hard", dist_eps=1e-4)


def dataset_views(azimuths: Sequence[float]) -> list[int] | None:
    """Dataset view index of each azimuth (view ``k`` is at ``-15 k`` degrees), or ``None``
    when one of them is not a dataset view."""
    views = []
    for azimuth in azimuths:
        steps = -float(azimuth) / AZIMUTH_STEP
        if abs(steps - round(steps)) > 1e-6:
            return None
        views.append(round(steps) % NUM_VIEWS)
    return views


@torch.no_grad()
def render_views(renderer, vertices: torch.Tensor, faces: torch.Tensor, colors: torch.Tensor | None,
                 azimuths: Sequence[float] | torch.Tensor, elevation: float = ELEVATION,
                 distance: float = DISTANCE, supersample: int = 2) -> torch.Tensor:
    """One mesh from several cameras -> ``(N, 4, H, W)`` RGBA in [0, 1] (colour on black,
    silhouette in channel 3), ``H = renderer size / supersample``.

    ``vertices (V, 3)``, ``faces (F, 3)`` int64, ``colors (V, 3)`` in [0, 1] or ``None``
    (white); ``azimuths`` in degrees, ``N`` of them. Rendered on the vertices' device.
    """
    import renderers  # noqa: PLC0415

    azimuths = torch.as_tensor(azimuths, dtype=torch.float32).reshape(-1)
    count = len(azimuths)
    vertices = vertices.detach().float()
    eye = renderers.points_from_angles(float(distance), float(elevation), azimuths).to(vertices.device)
    colors = torch.ones_like(vertices) if colors is None else colors.detach().float().to(vertices.device)
    images = renderer.to(vertices.device)(vertices[None].expand(count, -1, -1).contiguous(),
                                          faces.to(vertices.device), eye,
                                          colors.clamp(0, 1)[None].expand(count, -1, -1).contiguous())
    if supersample > 1:
        images = F.avg_pool2d(images, supersample)
    return images.clamp(0, 1)


def renders_on_white(images: torch.Tensor) -> torch.Tensor:
    """Renderer output ``(N, 4, H, W)`` (colour on black) -> ``(N, 3, H, W)`` on white."""
    return (images[:, :3] + 1.0 - images[:, 3:4]).clamp(0, 1)


def dataset_images_on_white(images: torch.Tensor) -> torch.Tensor:
    """Dataset-convention images ``(N, 4, H, W)`` (``stored = alpha * (1 - rgb)``) -> the
    colour composited on white ``(N, 3, H, W)``
    (:func:`recon.data.rgb_convention.decode_color_on_white`)."""
    return decode_color_on_white(images)


def _to_tile(images: torch.Tensor, tile: int) -> np.ndarray:
    """``(N, 3, h, w)`` in [0, 1] -> ``(N, tile, tile, 3)`` uint8 (nearest when enlarging,
    so the model's 64-pixel input is shown as it is; antialiased when shrinking)."""
    images = images.detach().float().cpu()
    if images.shape[-1] != tile or images.shape[-2] != tile:
        if images.shape[-1] < tile:
            images = F.interpolate(images, size=(tile, tile), mode="nearest")
        else:
            images = F.interpolate(images, size=(tile, tile), mode="bilinear", antialias=True, align_corners=False)
    return (images.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


def contact_sheet(input_image: torch.Tensor, renders: torch.Tensor, ground_truth: torch.Tensor | None = None,
                  azimuths: Sequence[float] = PREVIEW_AZIMUTHS, tile: int | None = None) -> np.ndarray:
    """The contact sheet as ``(H, W, 3)`` uint8.

    ``input_image (4, h, w)`` the model input (dataset convention); ``renders (N, 4, H, W)``
    from :func:`render_views` at ``azimuths``; ``ground_truth (N, 4, h, w)`` dataset images
    from the same cameras, or ``None``. ``tile`` defaults to the renders' size.
    """
    from PIL import Image, ImageDraw  # noqa: PLC0415

    count = renders.shape[0]
    if len(azimuths) != count:
        raise ValueError(f"{count} renders but {len(azimuths)} azimuths")
    if ground_truth is not None and ground_truth.shape[0] != count:
        raise ValueError(f"{count} renders but {ground_truth.shape[0]} ground-truth images")
    tile = int(tile or renders.shape[-1])
    rows = [np.concatenate([_to_tile(dataset_images_on_white(input_image[None]), tile),
                            _to_tile(renders_on_white(renders), tile)])]
    captions = [["input"] + [f"azimuth {a:g}" for a in azimuths]]
    if ground_truth is not None:
        blank = np.full((1, tile, tile, 3), 255, np.uint8)
        rows.append(np.concatenate([blank, _to_tile(dataset_images_on_white(ground_truth), tile)]))
        captions.append(["ground truth"] + [""] * count)
    columns = count + 1
    cell = tile + _GUTTER
    sheet = np.full((len(rows) * (cell + _CAPTION) + _GUTTER, columns * cell + _GUTTER, 3), _GUTTER_GRAY, np.uint8)
    for r, row in enumerate(rows):
        top = r * (cell + _CAPTION) + _GUTTER + _CAPTION
        sheet[top - _CAPTION:top] = 255
        for c, picture in enumerate(row):
            left = c * cell + _GUTTER
            sheet[top:top + tile, left:left + tile] = picture
    canvas = Image.fromarray(sheet)
    draw = ImageDraw.Draw(canvas)
    for r, texts in enumerate(captions):
        for c, text in enumerate(texts):
            if text:
                draw.text((c * cell + _GUTTER + 2, r * (cell + _CAPTION) + _GUTTER), text, fill=(0, 0, 0))
    return np.asarray(canvas)


def turntable_frames(renderer, vertices: torch.Tensor, faces: torch.Tensor, colors: torch.Tensor | None,
                     frames: int = TURNTABLE_FRAMES, elevation: float = ELEVATION, distance: float = DISTANCE,
                     supersample: int = 2) -> np.ndarray:
    """``frames`` views evenly around the mesh (azimuth 0, 360/frames, ...) -> ``(frames, H, W, 3)``
    uint8 on white. Arguments as :func:`render_views`."""
    if frames < 1:
        raise ValueError(f"a turntable needs at least one frame, got {frames}")
    azimuths = torch.arange(frames, dtype=torch.float32) * (360.0 / frames)
    images = render_views(renderer, vertices, faces, colors, azimuths, elevation, distance, supersample)
    return _to_tile(renders_on_white(images), images.shape[-1])


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """``image (H, W, 3)`` uint8 -> PNG at ``path``, atomically."""
    from PIL import Image  # noqa: PLC0415

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return write_bytes_atomic(path, buffer.getvalue())


def write_gif(path: str | os.PathLike, frames: np.ndarray, frame_ms: int = 80) -> Path:
    """``frames (N, H, W, 3)`` uint8 -> looping animated GIF at ``path``, atomically."""
    from PIL import Image  # noqa: PLC0415

    if len(frames) == 0:
        raise ValueError("no frames to write")
    pictures = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=int(frame_ms),
                     loop=0, disposal=1)
    return write_bytes_atomic(path, buffer.getvalue())


def save_previews(stem: str | os.PathLike, input_image: torch.Tensor, vertices: torch.Tensor, faces: torch.Tensor,
                  colors: torch.Tensor | None = None, ground_truth: torch.Tensor | None = None, renderer=None,
                  azimuths: Sequence[float] = PREVIEW_AZIMUTHS, image_size: int = 128, supersample: int = 2,
                  frames: int = TURNTABLE_FRAMES, turntable: bool = True) -> dict[str, Path]:
    """Writes ``<stem>_preview.png`` (:func:`contact_sheet`) and, with ``turntable``,
    ``<stem>_turntable.gif`` (:func:`turntable_frames`) for one mesh; returns
    ``{"preview": path, "turntable": path}``.

    ``input_image (4, 64, 64)`` dataset convention; ``vertices (V, 3)``, ``faces (F, 3)``,
    ``colors (V, 3)`` or ``None``; ``ground_truth (N, 4, 64, 64)`` at ``azimuths`` or ``None``.
    ``renderer`` (from :func:`preview_renderer` with the same ``image_size`` and
    ``supersample``) can be passed to reuse one across meshes.
    """
    renderer = renderer if renderer is not None else preview_renderer(image_size, supersample)
    stem = Path(stem)
    renders = render_views(renderer, vertices, faces, colors, azimuths, supersample=supersample)
    written = {"preview": write_png(stem.with_name(stem.name + "_preview.png"),
                                    contact_sheet(input_image, renders, ground_truth, azimuths))}
    if turntable:
        written["turntable"] = write_gif(stem.with_name(stem.name + "_turntable.gif"),
                                         turntable_frames(renderer, vertices, faces, colors, frames,
                                                          supersample=supersample))
    return written
