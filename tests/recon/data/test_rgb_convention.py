"""The dataset's RGB convention (stored rgb = alpha * (1 - shaded)) and everything using it."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from recon.callbacks import preview_grid
from recon.data.mesh import ColoredMesh
from recon.data.render_views import compose_dataset_images, render_dataset_views
from recon.data.rgb_convention import decode_color_on_black, decode_color_on_white, encode_dataset_rgba
from recon.export.images import to_model_input
from recon.export.previews import dataset_images_on_white


def _shaded_and_alpha(seed: int = 0, size: int = 16, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shaded = torch.rand(batch, 3, size, size, generator=g)
    alpha = torch.rand(batch, 1, size, size, generator=g)
    alpha[:, :, :4] = 0.0  # background
    alpha[:, :, -4:] = 1.0  # fully covered
    return shaded, alpha


def test_encode_decode_round_trip():
    shaded, alpha = _shaded_and_alpha()
    stored = encode_dataset_rgba(shaded * alpha, alpha)
    assert stored.shape == (2, 4, 16, 16)
    torch.testing.assert_close(stored[:, :3], alpha * (1 - shaded))  # on white, then inverted
    torch.testing.assert_close(stored[:, 3:], alpha)
    assert stored[:, :, :4].abs().max() == 0  # the background is 0 in every channel
    torch.testing.assert_close(decode_color_on_black(stored), shaded * alpha)
    torch.testing.assert_close(decode_color_on_white(stored), shaded * alpha + 1 - alpha)


def test_unbatched_images_and_alpha_without_channel():
    shaded, alpha = _shaded_and_alpha(batch=1)
    stored = encode_dataset_rgba((shaded * alpha)[0], alpha[0, 0])
    assert stored.shape == (4, 16, 16)
    torch.testing.assert_close(decode_color_on_black(stored), (shaded * alpha)[0])


def test_wrong_channel_counts_are_refused():
    with pytest.raises(ValueError, match=r"dataset images must be \(\.\.\., 4, H, W\)"):
        decode_color_on_black(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="color_on_black"):
        encode_dataset_rgba(torch.zeros(2, 4, 8, 8), torch.zeros(2, 1, 8, 8))


def test_synthetic_renderer_output_decodes_to_shaded_times_alpha():
    shaded, alpha = _shaded_and_alpha(seed=1, size=32)
    alpha = (alpha > 0.5).float()  # a hard render at 4x: coverage 0 or 1, black background
    render = torch.cat([shaded * alpha, alpha], 1)
    images = compose_dataset_images(render, supersample=4)
    assert images.shape == (2, 4, 8, 8)
    torch.testing.assert_close(images[:, 3:], F.avg_pool2d(alpha, 4))  # antialiased alpha
    torch.testing.assert_close(decode_color_on_black(images), F.avg_pool2d(shaded * alpha, 4))


def test_render_dataset_views_stores_the_convention():
    shaded = torch.tensor([0.9, 0.3, 0.1])

    def flat_square(vertices, faces, eyes, face_colors):  # a fake renderer: a coloured square on black
        out = torch.zeros(len(eyes), 4, 256, 256)
        out[:, :3, 64:192, 66:190] = shaded[:, None, None]
        out[:, 3, 64:192, 66:190] = 1.0
        return out

    mesh = ColoredMesh(np.zeros((3, 3), np.float32), np.array([[0, 1, 2]]), np.ones((1, 3), np.float32))
    stored = torch.from_numpy(render_dataset_views(mesh, flat_square, num_views=2)).float() / 255
    alpha = stored[:, 3:]
    assert alpha[0, 0, 20, 20] == 1 and alpha[0, 0, 0, 0] == 0 and alpha[0, 0, 20, 16] == 128 / 255  # x 64..67: half
    expected = shaded[None, :, None, None] * alpha
    torch.testing.assert_close(decode_color_on_black(stored), expected, atol=1 / 255, rtol=0)


def test_export_input_conversion_matches_the_convention():
    shaded, alpha = _shaded_and_alpha(seed=2, batch=1)
    rgb_hwc, alpha_hw = shaded[0].permute(1, 2, 0), alpha[0, 0]
    converted = to_model_input(rgb_hwc, alpha_hw, size=16)  # same size: no resampling
    torch.testing.assert_close(converted, encode_dataset_rgba(shaded[0] * alpha[0], alpha[0]))
    torch.testing.assert_close(decode_color_on_black(converted), shaded[0] * alpha[0])


def test_previews_and_loss_target_use_the_convention():
    from recon.losses import target_color_on_black

    assert target_color_on_black is decode_color_on_black
    shaded, alpha = _shaded_and_alpha(seed=3)
    stored = encode_dataset_rgba(shaded * alpha, alpha)
    torch.testing.assert_close(dataset_images_on_white(stored), 1 - stored[:, :3])


def test_training_preview_grid_shows_the_input_colour_on_black():
    shaded, alpha = _shaded_and_alpha(seed=4, size=8, batch=2)
    stored = encode_dataset_rgba(shaded * alpha, alpha)
    grid = preview_grid(stored, alpha[:, 0], shaded)
    assert grid.shape == (2 * 8, 4 * 8, 3) and grid.dtype == np.uint8
    first_column = torch.from_numpy(grid[:, :8].astype(np.float32) / 255).view(2, 8, 8, 3).permute(0, 3, 1, 2)
    torch.testing.assert_close(first_column, shaded * alpha, atol=0.5 / 255 + 1e-6, rtol=0)
