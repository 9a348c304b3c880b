"""The dataset's RGB convention, in one place (REFERENCE section 1).

Kato et al.'s generator composited the shaded object on *white*, then inverted the RGB, so
the background is 0 in every channel. With ``alpha`` the antialiased coverage and
``shaded`` the object's straight colour, a stored image holds::

    stored rgb   = 1 - (alpha * shaded + (1 - alpha)) = alpha * (1 - shaded)
    stored alpha = alpha

Everything that reads or writes dataset images goes through the two functions here:

* :func:`encode_dataset_rgba`: colour on black (``alpha * shaded``, what a renderer with a
  black background produces) and ``alpha`` -> stored RGBA (the synthetic renderer,
  :mod:`recon.data.render_views`; the export's input conversion, :mod:`recon.export.images`);
* :func:`decode_color_on_black`: stored RGBA -> colour on black, ``alpha - stored rgb`` (the
  colour loss's target, :func:`recon.losses.target_color_on_black`; the training previews,
  :mod:`recon.callbacks`), and :func:`decode_color_on_white` for display (the export's
  contact sheets, :mod:`recon.export.previews`).

Both are linear in ``(colour on black, alpha)``, so they commute with averaging (pooling,
antialiased resizing). Images are float in [0, 1], channel-first, channels at dim ``-3``:
``(B, C, H, W)`` or ``(C, H, W)``.
"""
from __future__ import annotations

import torch

__all__ = ["encode_dataset_rgba", "decode_color_on_black", "decode_color_on_white"]


def _check_channels(images: torch.Tensor, channels: int, what: str) -> None:
    if images.dim() < 3 or images.shape[-3] != channels:
        raise ValueError(f"{what} must be (..., {channels}, H, W) channel-first, got {tuple(images.shape)}")


def encode_dataset_rgba(color_on_black: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """The stored RGBA of an object: ``color_on_black (B, 3, H, W)`` (the shaded colour times
    its coverage, i.e. composited on black) and ``alpha (B, 1, H, W)`` (or ``(B, H, W)``),
    both in [0, 1] -> ``(B, 4, H, W)`` = ``[alpha - color_on_black, alpha]``, clamped to
    [0, 1] (``alpha * (1 - shaded)``: composited on white, then inverted)."""
    _check_channels(color_on_black, 3, "color_on_black")
    if alpha.dim() == color_on_black.dim() - 1:
        alpha = alpha.unsqueeze(-3)
    _check_channels(alpha, 1, "alpha")
    alpha = alpha.clamp(0.0, 1.0)
    return torch.cat([(alpha - color_on_black).clamp(0.0, 1.0), alpha.expand_as(color_on_black[..., :1, :, :])],
                     dim=-3)


def decode_color_on_black(images: torch.Tensor) -> torch.Tensor:
    """Stored dataset images ``(B, 4, H, W)`` -> the object's colour composited on black
    ``(B, 3, H, W)`` = ``alpha - stored rgb`` (``alpha * shaded``), clamped to [0, 1]."""
    _check_channels(images, 4, "dataset images")
    return (images[..., 3:4, :, :] - images[..., :3, :, :]).clamp(0.0, 1.0)


def decode_color_on_white(images: torch.Tensor) -> torch.Tensor:
    """Stored dataset images ``(B, 4, H, W)`` -> the colour composited on white
    ``(B, 3, H, W)`` (``colour on black + 1 - alpha``, which is ``1 - stored rgb``), for display."""
    _check_channels(images, 4, "dataset images")
    return (1.0 - images[..., :3, :, :]).clamp(0.0, 1.0)
