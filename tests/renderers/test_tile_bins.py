"""The screen-tile binning the CUDA forwards share (common/tile_bins.h: SoftRas, NMR's z-buffer,
edge sampling), run serially on the CPU, against a brute-force binning: every tile lists exactly
the faces whose tile rectangle covers it, in ascending face order (which is what makes a binned
pixel's walk equal a scan over all faces). Whether each op's rectangles reach every pixel a face
can touch is checked by its emulated launch equalling the CPU path (test_*_emulated.py)."""

from __future__ import annotations

import pytest
import torch

from renderers._ext import extension


def _brute_force(rects: torch.Tensor, batch: int, num_faces: int, tiles: int) -> list[list[int]]:
    lists = []
    for b in range(batch):
        for row in range(tiles):
            for col in range(tiles):
                lists.append([f for f in range(num_faces)
                              if (r := rects[b * num_faces + f].tolist())[0] <= col <= r[1] and r[2] <= row <= r[3]])
    return lists


@pytest.mark.parametrize(("batch", "num_faces", "tiles"), [(1, 1, 1), (2, 30, 5), (3, 200, 8), (2, 0, 4)])
def test_every_tile_lists_exactly_its_faces_in_order(batch, num_faces, tiles):
    gen = torch.Generator().manual_seed(batch * 1000 + num_faces)
    lo = torch.randint(0, tiles, (batch * num_faces, 2), generator=gen)
    span = torch.randint(0, 3, (batch * num_faces, 2), generator=gen)
    hi = (lo + span).clamp(max=tiles - 1)
    rects = torch.stack([lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1]], dim=1).int()
    if rects.shape[0] > 2:
        rects[::7] = torch.tensor([1, 0, 1, 0], dtype=torch.int32)  # faces that are not binned
    offsets, faces = extension().tile_bins_emulated(rects, batch, num_faces, tiles)
    expected = _brute_force(rects, batch, num_faces, tiles)
    assert offsets.shape == (batch * tiles * tiles + 1,) and int(offsets[0]) == 0
    got = [faces[int(offsets[t]):int(offsets[t + 1])].tolist() for t in range(batch * tiles * tiles)]
    assert got == expected


def test_bad_rects_are_refused():
    with pytest.raises(RuntimeError, match="rects must be a CPU int32 tensor"):
        extension().tile_bins_emulated(torch.zeros(3, 4, dtype=torch.int64), 1, 3, 2)
    with pytest.raises(RuntimeError, match=r"non-empty rects must lie in \[0, tiles\)"):
        extension().tile_bins_emulated(torch.tensor([[0, 2, 0, 0]], dtype=torch.int32), 1, 1, 2)
