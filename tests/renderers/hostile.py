"""What the hostile-input tests share: the code paths every renderer can take, and a check that a
render is finite, in range, and has finite gradients.

A *path* is a renderer with the options (and dtype) that select one of its kernels: SoftRas's
vector-lane silhouette (float32, euclidean), its scalar silhouette (float64) and colour paths, the
z-buffer renderers on the CPU and, for OpenDR and edge sampling, the CUDA launch sequence emulated
on the CPU. New renderers get a default path from ``renderers.available()``. The vector-lane
paths are taken at every width this CPU runs (``renderers.simd.lane_widths()``, set in-process).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from collections.abc import Iterator

import pytest
import torch

import renderers


@dataclasses.dataclass(frozen=True)
class RenderPath:
    """One kernel path: ``renderers.create(name, **options)`` rendering in ``dtype``."""

    id: str
    name: str
    options: dict
    dtype: torch.dtype = torch.float32
    colour: bool = True
    emulate_cuda: bool = False
    lanes: int | None = None  # the CPU vector width (renderers.simd) to render with; None: the default

    def create(self, **overrides) -> renderers.Renderer:
        return renderers.create(self.name, **{**self.options, **overrides, "silhouette_only": not self.colour})

    @contextlib.contextmanager
    def selected(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        """Within the block, the renderer's kernels run as emulated CUDA launches, or at the given
        vector width, where asked."""
        if self.lanes is not None:
            with renderers.simd.lane_width(self.lanes):
                yield
            return
        if self.emulate_cuda:
            module = {"opendr": renderers.opendr, "edge": renderers.edge}[self.name]
            original = module.kernel_params

            signature = inspect.signature(original)

            def emulated(*args, **kwargs):
                bound = signature.bind(*args, **kwargs)
                bound.arguments["emulate_cuda"] = True
                return original(*bound.args, **bound.kwargs)

            monkeypatch.setattr(module, "kernel_params", emulated)
        yield


_LANE_MODES = {"prod": {"sigma": 1e-4}, "sum": {"sigma": 1e-4, "aggr_alpha": "sum"},
               "hard": {"sigma": 1e-4, "aggr_alpha": "hard"}}

_KNOWN_PATHS = [
    *(RenderPath(f"softras-lanes{width}-{mode}", "softras", options, colour=False, lanes=width)
      for width in renderers.simd.lane_widths() for mode, options in _LANE_MODES.items()),
    RenderPath("softras-scalar", "softras", {"sigma": 1e-4}, dtype=torch.float64, colour=False),
    RenderPath("softras-barycentric", "softras", {"sigma": 1e-4, "dist_func": "barycentric"}, colour=False),
    RenderPath("softras-colour", "softras", {"sigma": 1e-4}),
    RenderPath("softras-colour-hard", "softras", {"sigma": 1e-4, "aggr_rgb": "hard", "aggr_alpha": "sum"},
               dtype=torch.float64),
    RenderPath("nmr", "nmr", {}),
    RenderPath("nmr-silhouette", "nmr", {"anti_aliasing": False}, dtype=torch.float64, colour=False),
    RenderPath("opendr", "opendr", {}),
    RenderPath("opendr-emulated-cuda", "opendr", {}, colour=False, emulate_cuda=True),
    RenderPath("edge", "edge", {"seed": 3, "edge_samples": 256}),
    RenderPath("edge-emulated-cuda", "edge", {"seed": 3, "edge_samples": 256}, dtype=torch.float64,
               emulate_cuda=True),
]

#: every path of every registered renderer (a renderer without known paths gets its defaults)
PATHS = [p for p in _KNOWN_PATHS if p.name in renderers.available()] + [
    RenderPath(name, name, {}) for name in renderers.available() if name not in {p.name for p in _KNOWN_PATHS}
]


def light_bound(renderer: renderers.Renderer) -> float:
    """The largest RGB value a render can have with colours in [0, 1]: the background or the
    brightest lit colour."""
    o = renderer.options
    lit = o.light_intensity_ambient * max(o.light_color_ambient) + o.light_intensity_directional * max(
        o.light_color_directional)
    return max(max(o.background), lit)


def _render_with_gradients(renderer: renderers.Renderer, vertices: torch.Tensor, faces: torch.Tensor,
                           eye: torch.Tensor, textures: torch.Tensor | None, seed: int | None,
                           dtype: torch.dtype | None) -> tuple[torch.Tensor, dict[str, torch.Tensor | None]]:
    """Renders the inputs (cast to ``dtype`` unless it is None) and back-propagates a fixed ramp of pixel weights
    (itself rounded to the input dtype, so that a half-precision run and its float32 twin receive
    the same incoming gradient). Returns the image and the gradients by input name."""
    inputs = {"vertices": vertices, "eye": eye, "textures": textures}
    leaves = {k: None if t is None else t.detach().to(dtype or t.dtype).clone().requires_grad_(t.is_floating_point())
              for k, t in inputs.items()}
    image = renderer(leaves["vertices"], faces, leaves["eye"], leaves["textures"], seed=seed)
    ramp = torch.linspace(-1.0, 1.0, image.numel(), dtype=torch.float64).view_as(image)
    image.backward(ramp.to(vertices.dtype).to(image.dtype))
    return image.detach(), {k: None if t is None else t.grad for k, t in leaves.items()}


def check_render(renderer: renderers.Renderer, vertices: torch.Tensor, faces: torch.Tensor, eye: torch.Tensor,
                 textures: torch.Tensor | None = None, seed: int | None = None) -> torch.Tensor:
    """Renders with gradients: asserts the image has the input dtype, is finite, has alpha in
    [0, 1] and RGB in [0, :func:`light_bound`] (textures in [0, 1]), and that the gradients of
    a weighted sum reach vertices, eye and textures finite. Returns the image (detached).

    float16 / bfloat16 inputs are computed in float32: their image and gradients must equal, bit
    for bit, the float32 render of the same values cast to the input dtype. The float32 gradients
    must be finite; cast to float16 (largest finite value 65504) a larger gradient, such as a
    sliver face's, becomes inf, as any float16 result does (the overflow GradScaler detects)."""
    image, grads = _render_with_gradients(renderer, vertices, faces, eye, textures, seed, None)
    assert image.dtype == vertices.dtype
    assert image.shape == (vertices.shape[0], 4, renderer.options.image_size, renderer.options.image_size)
    values = image.double()
    assert torch.isfinite(values).all(), "non-finite pixels"
    half = vertices.dtype in (torch.float16, torch.bfloat16)
    tol = 1e-2 if half else 1e-5
    assert values[:, 3].min() >= -tol and values[:, 3].max() <= 1 + tol, "alpha outside [0, 1]"
    assert values[:, :3].min() >= -tol and values[:, :3].max() <= light_bound(renderer) + tol, "RGB out of range"
    if half:
        image32, grads32 = _render_with_gradients(renderer, vertices, faces, eye, textures, seed, torch.float32)
        assert torch.equal(image, image32.to(image.dtype)), "half-precision image differs from the float32 one"
    for what, grad in grads.items():
        if grad is None:
            continue
        if half:
            assert torch.isfinite(grads32[what]).all(), f"non-finite float32 gradient of the {what}"
            assert torch.equal(grad, grads32[what].to(grad.dtype)), f"{what} gradient is not the float32 one, cast"
        else:
            assert torch.isfinite(grad).all(), f"non-finite gradient of the {what}"
    return image
