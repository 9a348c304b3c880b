"""The vector width of the CPU kernels (SoftRas's silhouette path), chosen at run time.

The lane-generic SoftRas math (``csrc/soft_rasterize/soft_rasterize_kernel.h``) is compiled once
per width: 1 (scalar), 4 (SSE2 / 128-bit vectors), 8 (AVX2 + FMA) and 16 (AVX-512 + FMA). A
process starts at the widest width its CPU runs, capped by ``RENDERERS_SIMD=scalar|sse|avx2|avx512``
(or ``1|4|8|16``; ``RENDERERS_NO_AVX2=1`` caps it at 4). Results differ between widths by rounding
only (fused multiply-adds from 8 lanes up, a polynomial exp and, with AVX, a refined hardware reciprocal in the packs); each width is
deterministic across runs and thread counts.

    >>> renderers.simd.lane_widths()          # e.g. (1, 4, 8, 16)
    >>> with renderers.simd.lane_width(4):    # the SSE path, whatever this CPU has
    ...     image = renderer(vertices, faces, eye)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ._ext import extension


def lane_widths() -> tuple[int, ...]:
    """The widths this CPU and build run, ascending (always includes 1)."""
    return tuple(extension().cpu_lane_widths())


def current_lane_width() -> int:
    """The width the CPU kernels use now."""
    return int(extension().cpu_lane_width())


def set_lane_width(width: int) -> int:
    """Sets the width for later calls in this process (0: back to the default) and returns the
    previous one. Raises ValueError naming the supported widths for one this CPU lacks."""
    if not isinstance(width, int) or isinstance(width, bool):
        raise TypeError(f"lane width must be an int, got {type(width).__name__}")
    if width != 0 and width not in lane_widths():
        raise ValueError(f"this CPU (or build) has no {width}-lane path; supported widths: {lane_widths()}")
    return int(extension().set_cpu_lane_width(width))


@contextlib.contextmanager
def lane_width(width: int) -> Iterator[None]:
    """Within the block the CPU kernels run ``width`` lanes wide (process-wide: not for use while
    other threads render)."""
    previous = set_lane_width(width)
    try:
        yield
    finally:
        set_lane_width(previous)
