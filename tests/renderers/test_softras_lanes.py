"""SoftRas's silhouette path at every CPU vector width (``renderers.simd``): 1 (scalar float), 4
(SSE2), 8 (AVX2 + FMA) and 16 (AVX-512 + FMA, as 8 columns x 2 rows), each instantiating the one
lane-generic source of soft_rasterize_kernel.h. Every width this CPU runs is checked against the
float64 reference in every alpha aggregation and distance mode, single- and double-sided, on
image sizes that leave partial blocks at the right and bottom borders.

Tolerances: those of the scalar float32 path against the float64 reference
(test_softras_backward.test_gradients_match_reference_float32_training_settings): image 1e-5
absolute, gradients 1e-3 relative + 1e-4 of the largest. The packs add rounding only: fused
multiply-adds (8 and 16 lanes), a polynomial exp within 3e-7 relative of expf and (8 and 16
lanes) a Newton-refined hardware reciprocal. The
barycentric distance is ill-conditioned in float32 on every path, the scalar one included
(measured on this scene: 1.8e-5 single-sided, 3.4e-5 double-sided, the same at every width):
D = sigmoid(sign(m) m^2 / sigma) amplifies the rounding of the barycentric m by up to
0.37 / sqrt(sigma) (37 at sigma 1e-4). Its image tolerance adds, per pixel, the first-order bound
of that rounding (_barycentric_rounding_bound). Its gradients get, per element, twice the error
of an independent float32 evaluation of the same math (the reference in float32, or the scalar
float32 kernel, against float64) on top: on an elongated face of the 37-pixel scene the reference
itself is 0.66 off in float32 (of a largest gradient of 456), as is every width.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import renderers
from renderers.reference import soft_rasterize_reference
from renderers.softras import SoftRasOptions, soft_rasterize

from .conftest import assert_deterministic_across_threads, assert_gpu_matches_cpu, random_screen_faces, \
    reference_kwargs

WIDTHS = renderers.simd.lane_widths()
MODES = [(alpha, dist) for alpha in ("prod", "sum", "hard") for dist in ("euclidean", "barycentric")]


@pytest.fixture(params=WIDTHS, ids=[f"lanes{w}" for w in WIDTHS])
def width(request):
    with renderers.simd.lane_width(request.param):
        yield request.param


def _barycentric_rounding_bound(faces: torch.Tensor, options: SoftRasOptions) -> torch.Tensor:
    """(B, S, S): sum over faces of |dD/dm| * delta_m, the alpha error a float32 barycentric m
    (w_k = wa_k px + wb_k py + wc_k, its coefficients from a division by the area) carries:
    delta_m <= 8 ulp of |wa px| + |wb py| + |wc| (each coefficient within 2 ulp, two products and
    two sums, with a factor of 2 of margin); prod aggregates it with weights prod_k (1 - D_k) <= 1,
    sum divides by F."""
    f = faces.double()
    size, sigma = options.image_size, options.sigma
    centres = (2 * torch.arange(size, dtype=torch.float64) + 1 - size) / size
    px, py = centres[None, :].expand(size, size), -centres[:, None].expand(size, size)  # row r: y = (S-1-2r)/S
    x, y = f[..., 0], f[..., 1]  # (B, F, 3)
    xi, yi, xj, yj = x.roll(-1, -1), y.roll(-1, -1), x.roll(-2, -1), y.roll(-2, -1)
    area = ((x[..., 1] - x[..., 0]) * (y[..., 2] - y[..., 0]) - (x[..., 2] - x[..., 0]) * (y[..., 1] - y[..., 0]))
    area = torch.where(area.abs() < 1e-10, torch.full_like(area, 1e-10), area)[..., None]
    wa, wb, wc = ((yi - yj) / area, (xj - xi) / area, (xi * yj - xj * yi) / area)
    P = lambda t: t[..., None, None]  # noqa: E731  (B, F, 3, 1, 1)
    w = P(wa) * px + P(wb) * py + P(wc)
    terms = P(wa).abs() * px.abs() + P(wb).abs() * py.abs() + P(wc).abs()
    m = w.min(dim=2).values  # (B, F, S, S)
    delta_m = 8 * 2.0**-24 * terms.max(dim=2).values
    D = torch.sigmoid(torch.sign(m) * m * m / sigma)
    bound = (D * (1 - D) * 2 * m.abs() / sigma * delta_m).sum(dim=1)
    return bound / faces.shape[1] if options.aggr_alpha == "sum" else bound


def _render(faces, options, upstream, fn=None, backward=True):
    """(image, d faces of sum(image * upstream)) of the compiled silhouette or of ``fn``."""
    fn = fn or (lambda f: soft_rasterize(f, None, options))
    faces = faces.clone().requires_grad_(True)
    image = fn(faces)
    if not backward:
        return image.detach(), None
    (image * upstream).sum().backward()
    return image.detach(), faces.grad


def _reference(faces, options):
    return lambda f: soft_rasterize_reference(f.double(), None, **reference_kwargs(options)).to(f.dtype)


def _reference_in_float32(options):
    return lambda f: soft_rasterize_reference(f, None, **reference_kwargs(options))


def _assert_within_float32_conditioning(ours, truth, float32_error, rtol=1e-3, atol_of_largest=1e-4):
    """|ours - truth| <= rtol |truth| + atol_of_largest max|truth| + 2 |float32_error| per element,
    float32_error being another float32 evaluation's error against truth."""
    scale = float(truth.abs().max())
    assert scale > 0
    error = (ours.double() - truth.double()).abs()
    allowed = rtol * truth.double().abs() + atol_of_largest * scale + 2 * float32_error.double().abs()
    worst = int((error - allowed).argmax())
    assert (error <= allowed).all(), (worst, float(error.flatten()[worst]), float(allowed.flatten()[worst]))


@pytest.mark.parametrize("double_sided", [False, True], ids=["single-sided", "double-sided"])
@pytest.mark.parametrize(("aggr_alpha", "dist_func"), MODES)
@pytest.mark.parametrize("size", [32, 37])
def test_every_width_matches_the_reference(width, aggr_alpha, dist_func, double_sided, size):
    faces = random_screen_faces(batch=2, num_faces=50, seed=23, size=0.3, special=False)
    options = SoftRasOptions(image_size=size, sigma=1e-4, dist_eps=1e-10, aggr_alpha=aggr_alpha, dist_func=dist_func,
                             double_sided=double_sided)
    upstream = torch.randn(2, 4, size, size, generator=torch.Generator().manual_seed(1))
    assert renderers.simd.current_lane_width() == width
    ours = _render(faces, options, upstream)
    reference = _render(faces, options, upstream, _reference(faces, options), backward=aggr_alpha != "hard")
    alpha = ours[0][:, 3]
    assert (alpha > 1e-3).any() and (alpha == 0).any()  # the scene draws, with background
    if dist_func == "barycentric" and aggr_alpha != "hard":
        error = (ours[0][:, 3].double() - reference[0][:, 3].double()).abs()
        assert (error <= 1e-5 + _barycentric_rounding_bound(faces, options)).all(), float(error.max())
    torch.testing.assert_close(ours[0][:, :3], reference[0][:, :3], rtol=0, atol=0)  # no colour
    if dist_func == "euclidean" or aggr_alpha == "hard":
        torch.testing.assert_close(ours[0], reference[0], rtol=0, atol=1e-5)
    if aggr_alpha == "hard":
        assert torch.equal(ours[1], torch.zeros_like(ours[1]))  # a step function: no gradient
        return
    if dist_func == "barycentric":
        in_float32 = _render(faces, options, upstream, _reference_in_float32(options))[1]
        _assert_within_float32_conditioning(ours[1], reference[1], in_float32 - reference[1])
    else:
        scale = float(reference[1].abs().max())
        assert scale > 0
        torch.testing.assert_close(ours[1], reference[1], rtol=1e-3, atol=1e-4 * scale)


@pytest.mark.parametrize(("aggr_alpha", "dist_func"), MODES)
def test_every_width_equals_the_scalar_float_path_on_degenerate_faces(width, aggr_alpha, dist_func):
    """Tiny, collinear, coincident-corner and off-screen faces too. Every width takes the same per-face
    setup (compiled without fused multiply-adds), so a sliver's orientation and culling are decided
    the same way; the corners of the degenerate faces are compared by their sum (their split is
    ill-conditioned, see assert_gpu_matches_cpu)."""
    faces = random_screen_faces(batch=3, num_faces=80, seed=41, size=0.3)
    options = SoftRasOptions(image_size=40, sigma=1e-4, aggr_alpha=aggr_alpha, dist_func=dist_func,
                             double_sided=False)
    upstream = torch.randn(3, 4, 40, 40, generator=torch.Generator().manual_seed(3))
    ours = _render(faces, options, upstream)
    with renderers.simd.lane_width(1):
        scalar = _render(faces, options, upstream)
    if dist_func == "euclidean":
        assert_gpu_matches_cpu((*ours, None), (*scalar, None), torch.float32, degenerate_faces=(1, 4))
        return
    # barycentric: images only. Its float32 gradients on this scene are too ill-conditioned for a
    # meaningful comparison (measured: at one element of face 57 the 4-lane path differs from the
    # scalar one by 0.093, with the exp rounding alone, where the scalar path is itself 0.026 from
    # float64); they are checked against the reference on the scene above.
    torch.testing.assert_close(ours[0], scalar[0], rtol=1e-4, atol=1e-5)
    assert torch.isfinite(ours[1]).all()


def test_each_width_is_deterministic_across_runs_and_threads(width):
    faces = random_screen_faces(batch=3, num_faces=200, seed=31, size=0.2)
    options = SoftRasOptions(image_size=48, sigma=1e-4)
    upstream = torch.randn(3, 4, 48, 48, generator=torch.Generator().manual_seed(2))
    assert_deterministic_across_threads(lambda: _render(faces, options, upstream))


def test_unsupported_widths_are_refused_with_the_supported_ones():
    assert WIDTHS[0] == 1 and 4 in WIDTHS and list(WIDTHS) == sorted(WIDTHS)
    before = renderers.simd.current_lane_width()
    with pytest.raises(ValueError, match=r"no 3-lane path; supported widths: \(1, 4"):
        renderers.simd.set_lane_width(3)
    with pytest.raises(TypeError, match="must be an int"):
        renderers.simd.set_lane_width(4.0)
    with pytest.raises(RuntimeError, match="no 32-lane path; supported widths: 1 4"):  # the C++ check itself
        renderers._ext.extension().set_cpu_lane_width(32)
    assert renderers.simd.current_lane_width() == before
    previous = renderers.simd.set_lane_width(1)
    assert previous == before and renderers.simd.set_lane_width(0) == 1
    if not os.environ.get("RENDERERS_SIMD"):  # the widest, or the widest up to 4 under RENDERERS_NO_AVX2
        cap = 4 if os.environ.get("RENDERERS_NO_AVX2") is not None else 16
        assert renderers.simd.current_lane_width() == max(w for w in WIDTHS if w <= cap)


_WIDTH_OF_PROCESS = "import renderers; print(renderers.simd.current_lane_width())"


@pytest.mark.parametrize(("env", "expected"), [
    ({"RENDERERS_SIMD": "scalar"}, 1), ({"RENDERERS_SIMD": "sse"}, 4), ({"RENDERERS_SIMD": "8"}, min(8, WIDTHS[-1])),
    ({"RENDERERS_NO_AVX2": "1"}, 4), ({"RENDERERS_SIMD": "avx512"}, WIDTHS[-1]), ({}, WIDTHS[-1]),
])
def test_environment_caps_the_default_width(env, expected):
    root = Path(__file__).resolve().parents[2]
    clean = {k: v for k, v in os.environ.items() if k not in ("RENDERERS_SIMD", "RENDERERS_NO_AVX2")}
    done = subprocess.run([sys.executable, "-c", _WIDTH_OF_PROCESS], env={**clean, **env}, cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) == expected


def test_a_bad_environment_width_is_named():
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", _WIDTH_OF_PROCESS], env={**os.environ, "RENDERERS_SIMD": "avx9"},
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "RENDERERS_SIMD must be one of scalar, sse, avx2, avx512" in done.stderr and "'avx9'" in done.stderr
