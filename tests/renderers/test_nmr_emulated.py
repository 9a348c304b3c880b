"""NMR's CUDA launch sequences, emulated on the CPU (``emulate_cuda=True``: the hard rasterizer's
set-up and per-pixel kernels, then Kato's mark-shown and per-face backward kernels, run serially),
equal the CPU path for every texture kind, both sidednesses and both precisions, on the scenes of
the CUDA parity test: CI, which has no GPU, executes every line of the CUDA path
(mark_shown_kernel and the generic outward scan included) and compares it."""

from __future__ import annotations

import functools

import pytest
import torch

from renderers.nmr import hard_rasterize

from .conftest import assert_gpu_matches_cpu, forward_backward
from .test_nmr_cuda import parity_scene


@pytest.mark.parametrize("kind", [None, "vertex", "surface", "volume"])
@pytest.mark.parametrize("double_sided", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_emulated_cuda_launches_equal_the_cpu_path(kind, double_sided, dtype):
    faces, textures, upstream, options = parity_scene(kind, double_sided, dtype)
    cpu = forward_backward(hard_rasterize, faces, textures, upstream, kind, **options)
    emulated = forward_backward(functools.partial(hard_rasterize, emulate_cuda=True), faces, textures, upstream, kind,
                                **options)
    assert cpu[0][:, 3].sum() > 0 and cpu[1].abs().sum() > 0  # the scene draws and has gradients
    assert_gpu_matches_cpu(emulated, cpu, dtype, degenerate_faces=(1, 4))
