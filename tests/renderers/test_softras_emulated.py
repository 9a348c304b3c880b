"""SoftRas's CUDA launch sequence, emulated on the CPU (``emulate_cuda=True``: the per-thread
kernels of soft_rasterize_launch.h run serially), equals the CPU path in every mode, texture
kind and precision, forward and backward, on the scenes of the CUDA parity test. So CI, which
has no GPU, executes every line of the CUDA path (setup_face, rasterize_pixel with
evaluate_coverage, backward_face with coverage_in_box and backward_pair), in the order the GPU
would, and compares its results."""

from __future__ import annotations

import pytest
import torch

from renderers.softras import SoftRasOptions, soft_rasterize

from .conftest import assert_gpu_matches_cpu, random_screen_faces, random_textures
from .test_softras_cuda import MODES, _forward_backward


@pytest.mark.parametrize(("dist_func", "aggr_alpha", "aggr_rgb"), MODES)
@pytest.mark.parametrize("kind", ["surface", "vertex"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("double_sided", [True, False])
def test_emulated_cuda_launch_equals_the_cpu_path(dist_func, aggr_alpha, aggr_rgb, kind, dtype, double_sided):
    faces = random_screen_faces(batch=3, num_faces=80, dtype=dtype, seed=41, size=0.3)
    textures = None if aggr_rgb is None else random_textures(faces, kind, res=2)
    options = SoftRasOptions(image_size=40, sigma=1e-4, gamma=1e-3, dist_func=dist_func, aggr_alpha=aggr_alpha,
                             aggr_rgb=aggr_rgb or "softmax", double_sided=double_sided)
    upstream = torch.randn(3, 4, 40, 40, dtype=dtype, generator=torch.Generator().manual_seed(3))
    cpu = _forward_backward(faces, textures, options, kind, upstream, emulate_cuda=False)
    emulated = _forward_backward(faces, textures, options, kind, upstream, emulate_cuda=True)
    assert cpu[0].abs().sum() > 0  # the scene draws
    if aggr_alpha != "hard" or aggr_rgb == "softmax":  # (hard alpha with hard or no colour has no gradient)
        assert cpu[1].abs().sum() > 0
    assert_gpu_matches_cpu(emulated, cpu, dtype, degenerate_faces=(1, 4))


def test_emulated_launch_is_refused_on_cuda_tensors_and_empty_batches_work():
    options = SoftRasOptions(image_size=8)
    empty = torch.zeros(0, 3, 3, 3)
    assert soft_rasterize(empty, None, options, emulate_cuda=True).shape == (0, 4, 8, 8)
    no_faces = torch.zeros(2, 0, 3, 3, requires_grad=True)
    image = soft_rasterize(no_faces, None, options, emulate_cuda=True)
    assert torch.equal(image[:, 3], torch.zeros(2, 8, 8))
    image.sum().backward()
    if torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="emulate_cuda runs on CPU tensors only"):
            soft_rasterize(torch.zeros(1, 1, 3, 3, device="cuda"), None, options, emulate_cuda=True)
