"""Preview pictures: cameras agree with the dataset views, contact sheet layout, GIF, atomic writes."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("renderers")

from recon.data.render_views import render_dataset_views  # noqa: E402
from recon.data.synthetic import make_object  # noqa: E402
from recon.export.previews import (  # noqa: E402
    PREVIEW_AZIMUTHS,
    contact_sheet,
    dataset_images_on_white,
    dataset_views,
    preview_renderer,
    render_views,
    save_previews,
    write_gif,
)
from recon.models.template import icosphere  # noqa: E402


@pytest.fixture(scope="module")
def chair():
    """A synthetic chair: ``vertices (V, 3)``, ``faces (F, 3)`` and its dataset images ``(24, 4, 64, 64)``."""
    mesh = make_object("90000001", seed=0, split="test", index=0)
    vertices = torch.as_tensor(np.asarray(mesh.vertices), dtype=torch.float32)
    faces = torch.as_tensor(np.asarray(mesh.faces), dtype=torch.int64)
    images = torch.from_numpy(render_dataset_views(mesh)).float() / 255
    return vertices, faces, images


def test_preview_azimuths_are_dataset_views():
    assert dataset_views(PREVIEW_AZIMUTHS) == [22, 14, 6]
    assert dataset_views([0, -15, 345, 720]) == [0, 1, 1, 0]
    assert dataset_views([30, 10]) is None


def test_previews_see_the_object_as_the_dataset_does(chair):
    """Silhouettes rendered at the preview azimuths match the dataset images of the same views."""
    vertices, faces, images = chair
    renders = render_views(preview_renderer(64, 2), vertices, faces, None, PREVIEW_AZIMUTHS, supersample=2)
    assert renders.shape == (3, 4, 64, 64)
    truth = images[dataset_views(PREVIEW_AZIMUTHS), 3]
    predicted = renders[:, 3]
    iou = (predicted * truth).sum((1, 2)) / (predicted + truth - predicted * truth).sum((1, 2))
    assert (iou > 0.85).all(), iou
    wrong = images[[0, 8, 16], 3]  # other views: clearly different silhouettes
    iou_wrong = (predicted * wrong).sum((1, 2)) / (predicted + wrong - predicted * wrong).sum((1, 2))
    assert (iou_wrong < iou - 0.1).all(), (iou, iou_wrong)


def test_vertex_colours_are_used():
    vertices, faces = icosphere(3)
    vertices = vertices * 0.3
    red = torch.zeros_like(vertices)
    red[:, 0] = 1.0
    renderer = preview_renderer(32, 1)
    white, colored = (render_views(renderer, vertices, faces, c, [30.0], supersample=1)[0] for c in (None, red))
    centre = (slice(None), slice(12, 20), slice(12, 20))
    assert white[3][centre[1:]].min() == 1.0 and colored[3][centre[1:]].min() == 1.0
    assert torch.allclose(white[0][centre[1:]], white[1][centre[1:]])  # grey shading of white
    assert colored[0][centre[1:]].min() > 0.4 and colored[1:3][centre].max() == 0.0
    assert white[:, :2, :2].max() == 0.0  # background black before compositing


def test_contact_sheet_layout(chair):
    vertices, faces, images = chair
    renders = render_views(preview_renderer(48, 1), vertices, faces, None, PREVIEW_AZIMUTHS, supersample=1)
    one_row = contact_sheet(images[0], renders)
    two_rows = contact_sheet(images[0], renders, images[dataset_views(PREVIEW_AZIMUTHS)])
    assert one_row.dtype == np.uint8 and one_row.shape[2] == 3
    assert one_row.shape[1] == two_rows.shape[1] >= 4 * 48
    assert two_rows.shape[0] > one_row.shape[0] + 48
    assert one_row.shape[0] >= 48 and two_rows.shape[0] >= 2 * 48
    with pytest.raises(ValueError, match="azimuths"):
        contact_sheet(images[0], renders, azimuths=(0.0, 90.0))
    with pytest.raises(ValueError, match="ground-truth"):
        contact_sheet(images[0], renders, images[:2])


def test_dataset_images_shown_on_white(chair):
    _, _, images = chair
    shown = dataset_images_on_white(images[:1])
    assert shown[0, :, 0, 0].min() == 1.0  # background white
    alpha = images[0, 3]
    inside = alpha == 1
    colour_on_black = (alpha - images[0, :3]).clamp(0, 1)
    torch.testing.assert_close(shown[0][:, inside], colour_on_black[:, inside])


def test_save_previews_writes_png_and_gif_atomically(tmp_path, chair):
    vertices, faces, images = chair
    colors = torch.rand_like(vertices)
    stem = tmp_path / "deep" / "folder" / "chair.v1"
    files = save_previews(stem, images[0], vertices, faces, colors, images[dataset_views(PREVIEW_AZIMUTHS)],
                          image_size=32, supersample=1, frames=6)
    assert files["preview"] == tmp_path / "deep" / "folder" / "chair.v1_preview.png"
    assert files["turntable"] == tmp_path / "deep" / "folder" / "chair.v1_turntable.gif"
    with Image.open(files["preview"]) as sheet:
        assert sheet.format == "PNG" and sheet.mode == "RGB"
    with Image.open(files["turntable"]) as gif:
        assert gif.format == "GIF" and gif.n_frames == 6 and gif.size == (32, 32) and gif.info.get("loop") == 0
        first = np.asarray(gif.convert("RGB"))
        gif.seek(3)
        later = np.asarray(gif.convert("RGB"))
    assert not np.array_equal(first, later)  # it turns
    assert sorted(p.name for p in stem.parent.iterdir()) == ["chair.v1_preview.png", "chair.v1_turntable.gif"]
    only_sheet = save_previews(tmp_path / "x", images[0], vertices, faces, turntable=False, image_size=32,
                               supersample=1)
    assert list(only_sheet) == ["preview"] and not (tmp_path / "x_turntable.gif").exists()


def test_failed_write_leaves_no_file(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        write_gif(tmp_path / "a.gif", np.zeros((0, 8, 8, 3), np.uint8))
    with pytest.raises(TypeError):
        write_gif(tmp_path / "b.gif", np.zeros((2, 8, 8, 5), np.uint8))  # not an RGB picture
    assert list(tmp_path.iterdir()) == []
