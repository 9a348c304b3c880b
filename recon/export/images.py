"""The user's own pictures as model inputs, in the dataset's RGBA convention.

The network takes ``(B, 4, 64, 64)`` float images in [0, 1] exactly as the dataset stores
them (REFERENCE section 1, :mod:`recon.data.rgb_convention`): channel 3 is the alpha (the
object's coverage) and channels 0-2 hold the colour composited on white, then inverted,
``stored = alpha * (1 - rgb)``, so the background is 0 in every channel.

Accepted inputs (anything PIL reads):

* an image with transparency: an RGBA or LA PNG, or a palette PNG with a transparent colour;
* any image plus a mask file of the same size: white = object, black = background, grey
  levels = partial coverage. A mask replaces the image's own alpha when it has one.

The EXIF orientation is applied to both. A non-square picture is padded (transparent,
centred) to a square, then resized with antialiasing; colours are resized premultiplied by
the alpha so the background never bleeds into the object's edges.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from recon.data.cameras import IMAGE_SIZE
from recon.data.rgb_convention import encode_dataset_rgba

__all__ = ["InputImageError", "read_rgba", "to_model_input", "load_image", "load_images"]

PathLike = str | os.PathLike


class InputImageError(ValueError):
    """An input image or mask that cannot be used (unreadable, wrong size, no silhouette)."""


def _open(path: PathLike, what: str):
    """Opens and fully decodes ``path`` (EXIF orientation applied) -> ``PIL.Image``."""
    from PIL import Image, ImageOps  # noqa: PLC0415

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist")
    if not path.is_file():
        raise InputImageError(f"{what} {str(path)!r} is not a file")
    try:
        with Image.open(path) as image:
            image.load()
            return ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise InputImageError(f"cannot read {what} {str(path)!r}: not a readable image file ({error})") from error


def _gray(image) -> np.ndarray:
    """One channel in [0, 1], ``(H, W)`` float32, whatever the mode (1-bit, 8-bit, 16-bit, float)."""
    if image.mode == "F":
        return np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    if image.mode.startswith("I"):
        values = np.asarray(image, dtype=np.float32)
        return np.clip(values / (65535.0 if values.max() > 255 else 255.0), 0.0, 1.0)
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def _has_alpha(image) -> bool:
    return "A" in image.getbands() or "transparency" in image.info


def read_rgba(path: PathLike, mask: PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reads one picture -> ``rgb (H, W, 3)`` and ``alpha (H, W)``, float32 in [0, 1]
    (straight, not premultiplied, colour). ``mask`` replaces the image's alpha.

    Raises ``FileNotFoundError`` for a missing file and :class:`InputImageError` for an
    unreadable one, a mask whose size differs from the image's, an image with neither
    transparency nor a mask, and a silhouette that is empty or covers the whole picture.
    """
    image = _open(path, "image")
    if mask is not None:
        mask_image = _open(mask, "mask")
        if mask_image.size != image.size:
            raise InputImageError(
                f"mask {str(mask)!r} is {mask_image.size[0]}x{mask_image.size[1]} pixels but image {str(path)!r} is "
                f"{image.size[0]}x{image.size[1]}: a mask must have its image's size")
        alpha = _gray(mask_image)
        source = f"mask {str(mask)!r}"
    elif _has_alpha(image):
        alpha = np.asarray(image.convert("RGBA"), dtype=np.float32)[..., 3] / 255.0
        source = f"the alpha channel of {str(path)!r}"
    else:
        raise InputImageError(
            f"image {str(path)!r} has no transparency ({image.mode}): the model needs the object's silhouette. "
            "Pass a mask file of the same size (white = object, black = background), e.g. "
            "`masks=[mask.png]` with `recon-export`, or save the image as a PNG with a transparent background")
    if not (alpha > 0).any():
        raise InputImageError(f"{source} is empty (0 everywhere): no object to reconstruct")
    if (alpha >= 1).all():
        raise InputImageError(
            f"{source} covers the whole picture (opaque everywhere): the model needs the object's silhouette "
            "against a transparent background; pass a mask that is black outside the object")
    if image.mode.startswith("I") or image.mode == "F":
        rgb = np.repeat(_gray(image)[..., None], 3, axis=2)
    else:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return rgb, alpha


def to_model_input(rgb: np.ndarray | torch.Tensor, alpha: np.ndarray | torch.Tensor,
                   size: int = IMAGE_SIZE) -> torch.Tensor:
    """``rgb (H, W, 3)`` straight colour and ``alpha (H, W)`` in [0, 1] -> ``(4, size, size)``
    float32 in the dataset convention (``stored rgb = alpha * (1 - rgb)``, channel 3 alpha).

    The picture is padded to a centred square with alpha 0, then resized (bilinear with
    antialiasing) in premultiplied form (colour on black ``alpha * rgb``, and ``alpha``), then
    encoded by :func:`recon.data.rgb_convention.encode_dataset_rgba`: the stored channels
    ``alpha - alpha * rgb`` are linear in ``(alpha * rgb, alpha)``, so resizing and
    compositing commute.
    """
    rgb = torch.as_tensor(np.asarray(rgb, dtype=np.float32))
    alpha = torch.as_tensor(np.asarray(alpha, dtype=np.float32))
    if rgb.dim() != 3 or rgb.shape[2] != 3 or alpha.shape != rgb.shape[:2]:
        raise ValueError(f"expected rgb (H, W, 3) and alpha (H, W), got {tuple(rgb.shape)} and {tuple(alpha.shape)}")
    premultiplied = torch.cat([rgb.clamp(0, 1) * alpha.clamp(0, 1)[..., None], alpha.clamp(0, 1)[..., None]], 2)
    planes = premultiplied.permute(2, 0, 1)[None]  # (1, 4, H, W): alpha*rgb, alpha
    height, width = planes.shape[-2:]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    planes = F.pad(planes, (left, side - width - left, top, side - height - top))
    if side != size:
        planes = F.interpolate(planes, size=(size, size), mode="bilinear", align_corners=False,
                               antialias=side > size)
    planes = planes[0].clamp(0, 1)
    return encode_dataset_rgba(planes[:3], planes[3:4]).contiguous()


def load_image(path: PathLike, mask: PathLike | None = None, size: int = IMAGE_SIZE) -> torch.Tensor:
    """One picture (and optional mask) -> ``(4, size, size)`` model input (dataset convention)."""
    rgb, alpha = read_rgba(path, mask)
    return to_model_input(rgb, alpha, size)


def load_images(paths: Sequence[PathLike], masks: Sequence[PathLike | None] | None = None,
                size: int = IMAGE_SIZE) -> torch.Tensor:
    """Pictures (and optional masks, one per picture; ``None`` entries use the picture's own
    alpha) -> ``(B, 4, size, size)`` float32 model inputs (dataset convention)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise ValueError("no input images given")
    if masks is None:
        masks = [None] * len(paths)
    elif isinstance(masks, (str, os.PathLike)):
        masks = [masks]
    masks = list(masks)
    if len(masks) != len(paths):
        raise ValueError(f"got {len(paths)} images but {len(masks)} masks: give one mask per image "
                         "(null for an image that has its own transparency)")
    return torch.stack([load_image(p, m, size) for p, m in zip(paths, masks)])
