"""The user's pictures as model inputs: RGBA PNGs, RGB + mask, and clear errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from recon.export.images import InputImageError, load_image, load_images, to_model_input
from recon.losses import target_color_on_black

RED = (230, 20, 40)


def _rgba_square(size: int = 128, lo: int = 32, hi: int = 96) -> np.ndarray:
    """``(size, size, 4)`` uint8: a red square on a transparent (white-coloured) background."""
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = 255  # the colour under alpha 0 must not matter
    rgba[lo:hi, lo:hi, :3] = RED
    rgba[lo:hi, lo:hi, 3] = 255
    return rgba


def test_rgba_png_in_the_dataset_convention(tmp_path):
    path = tmp_path / "red.png"
    Image.fromarray(_rgba_square()).save(path)
    images = load_images([path])
    assert images.shape == (1, 4, 64, 64) and images.dtype == torch.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    alpha, stored = images[0, 3], images[0, :3]
    assert alpha[17:47, 17:47].min() == pytest.approx(1.0) and alpha[:10].max() == 0.0
    assert stored[:, :10].abs().max() == 0.0  # background 0 in every channel
    red = torch.tensor(RED, dtype=torch.float32) / 255
    # stored = alpha * (1 - rgb): composited on white, then inverted
    torch.testing.assert_close(stored[:, 32, 32], 1 - red, atol=1e-5, rtol=0)
    # the losses' inverse recovers the colour on black
    torch.testing.assert_close(target_color_on_black(images)[0, :, 32, 32], red, atol=1e-5, rtol=0)


def test_rgb_with_mask_matches_rgba(tmp_path):
    rgba = _rgba_square()
    Image.fromarray(rgba).save(tmp_path / "a.png")
    Image.fromarray(rgba[..., :3]).save(tmp_path / "b.png")
    Image.fromarray(rgba[..., 3]).save(tmp_path / "b_mask.png")
    Image.fromarray(rgba[..., 3] > 0).save(tmp_path / "b_mask_1bit.png")  # mode "1"
    images = load_images([tmp_path / "a.png", tmp_path / "b.png", tmp_path / "b.png"],
                         [None, tmp_path / "b_mask.png", tmp_path / "b_mask_1bit.png"])
    torch.testing.assert_close(images[1], images[0])
    torch.testing.assert_close(images[2], images[0])


def test_mask_overrides_alpha_and_16_bit_masks(tmp_path):
    rgba = _rgba_square()
    rgba[..., 3] = 255  # an opaque RGBA image: its alpha is no silhouette, the mask is
    Image.fromarray(rgba).save(tmp_path / "opaque.png")
    mask16 = (_rgba_square()[..., 3].astype(np.uint16) * 257)
    Image.fromarray(mask16).save(tmp_path / "mask16.png")
    image = load_image(tmp_path / "opaque.png", tmp_path / "mask16.png")
    assert image[3, 32, 32] == pytest.approx(1.0) and image[3, 2, 2] == 0.0


def test_palette_and_gray_alpha_images(tmp_path):
    rgba = _rgba_square()
    Image.fromarray(rgba).convert("LA").save(tmp_path / "la.png")
    palette = Image.fromarray(rgba[..., :3]).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    index_background = palette.getpixel((0, 0))
    palette.save(tmp_path / "p.png", transparency=index_background)
    images = load_images([tmp_path / "la.png", tmp_path / "p.png"])
    for image in images:
        assert image[3, 32, 32] == pytest.approx(1.0) and image[3, 2, 2] == 0.0


def test_non_square_pictures_are_padded_and_antialiased():
    # 200 x 100 picture, opaque everywhere but a 1-pixel transparent border: after padding to
    # 200 x 200 and resizing, the object fills the middle band of rows, alpha mass is kept.
    rgb = np.full((100, 200, 3), 0.5, np.float32)
    alpha = np.zeros((100, 200), np.float32)
    alpha[1:-1, 1:-1] = 1.0
    alpha[50, 1:-1] = 0.0
    image = to_model_input(rgb, alpha, size=64)
    assert image.shape == (4, 64, 64)
    rows = image[3].sum(1)
    assert rows[:14].max() == 0 and rows[-14:].max() == 0 and rows[20:44].min() > 0
    assert image[3].sum() == pytest.approx(alpha.sum() * (64 / 200) ** 2, rel=0.02)
    middle = image[3, 32, 8:56]
    assert (middle > 0.3).all() and (middle < 1.0).all()  # the thin gap is blurred, not dropped
    torch.testing.assert_close(image[:3], image[3:4].expand(3, -1, -1) * 0.5)


def test_upscales_small_pictures(tmp_path):
    Image.fromarray(_rgba_square(32, 8, 24)).save(tmp_path / "small.png")
    image = load_image(tmp_path / "small.png")
    assert image.shape == (4, 64, 64) and image[3, 32, 32] == pytest.approx(1.0)


def test_missing_and_corrupt_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.png"):
        load_images([tmp_path / "nothere.png"])
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    with pytest.raises(InputImageError, match="broken.png"):
        load_images([tmp_path / "broken.png"])
    Image.fromarray(_rgba_square()).save(tmp_path / "ok.png")
    with pytest.raises(FileNotFoundError, match="nomask.png"):
        load_images([tmp_path / "ok.png"], [tmp_path / "nomask.png"])
    with pytest.raises(InputImageError, match="is not a file"):
        load_images([tmp_path])


def test_rgb_without_mask_asks_for_one(tmp_path):
    Image.fromarray(_rgba_square()[..., :3]).save(tmp_path / "photo.jpg")
    with pytest.raises(InputImageError, match=r"photo\.jpg.*no transparency.*mask"):
        load_images([tmp_path / "photo.jpg"])


def test_mask_size_mismatch_names_both_files(tmp_path):
    Image.fromarray(_rgba_square(128)[..., :3]).save(tmp_path / "photo.png")
    Image.fromarray(_rgba_square(64, 16, 48)[..., 3]).save(tmp_path / "mask.png")
    with pytest.raises(InputImageError, match=r"mask\.png.*64x64.*photo\.png.*128x128"):
        load_image(tmp_path / "photo.png", tmp_path / "mask.png")


def test_unusable_silhouettes_and_mask_counts(tmp_path):
    rgba = _rgba_square()
    Image.fromarray(rgba[..., :3]).save(tmp_path / "photo.png")
    Image.fromarray(np.zeros((128, 128), np.uint8)).save(tmp_path / "empty.png")
    Image.fromarray(np.full((128, 128), 255, np.uint8)).save(tmp_path / "full.png")
    with pytest.raises(InputImageError, match=r"empty\.png.*empty"):
        load_image(tmp_path / "photo.png", tmp_path / "empty.png")
    with pytest.raises(InputImageError, match=r"full\.png.*whole picture"):
        load_image(tmp_path / "photo.png", tmp_path / "full.png")
    with pytest.raises(ValueError, match="2 images but 1 masks"):
        load_images([tmp_path / "photo.png"] * 2, [tmp_path / "empty.png"])
    with pytest.raises(ValueError, match="no input images"):
        load_images([])
