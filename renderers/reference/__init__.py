"""Plain-PyTorch versions of every compiled kernel: dense, slow, obviously correct.

They evaluate every (pixel, face) pair with ordinary tensor operations, so autograd gives
their gradients. Tests compare the compiled kernels (values and gradients) with them and
benchmarks measure speed-ups against them.
"""

from .nmr import kato_gradient_reference, nmr_rasterize_reference, rasterize_maps_reference
from .opendr import image_gradient_reference, opendr_maps_reference, opendr_rasterize_reference
from .softras import soft_rasterize_reference

__all__ = [
    "soft_rasterize_reference",
    "nmr_rasterize_reference",
    "rasterize_maps_reference",
    "kato_gradient_reference",
    "opendr_rasterize_reference",
    "opendr_maps_reference",
    "image_gradient_reference",
]
