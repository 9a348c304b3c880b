"""The dataset cameras (REFERENCE section 1).

View ``k`` of every object is seen from ``eye = points_from_angles(2.732, 30, -15*k)``,
looking at the origin with +Y up; the renderer derives the rest (look-at, half field of
view 15 degrees). ``points_from_angles`` is the renderer package's (pure PyTorch; it does
not need the compiled extension).
"""
from __future__ import annotations

import torch

from renderers import points_from_angles  # the camera convention lives in the renderer package

NUM_VIEWS = 24
DISTANCE = 2.732
ELEVATION = 30.0
AZIMUTH_STEP = 15.0
VIEWING_ANGLE = 15.0  # half field of view, degrees
IMAGE_SIZE = 64


def view_azimuths(num_views: int = NUM_VIEWS) -> torch.Tensor:
    """Azimuth in degrees of each dataset view, ``(num_views,)``: ``-15 * k``."""
    return -AZIMUTH_STEP * torch.arange(num_views, dtype=torch.float32)


def view_eyes(num_views: int = NUM_VIEWS) -> torch.Tensor:
    """Camera positions of the dataset views, ``(num_views, 3)`` float32.

    ``eye[k] = (d cos(e) sin(a), d sin(e), -d cos(e) cos(a))`` with ``d = 2.732``,
    ``e = 30`` degrees and ``a = -15 k`` degrees.
    """
    eyes = points_from_angles(DISTANCE, ELEVATION, view_azimuths(num_views))
    return eyes.to(torch.float32).reshape(num_views, 3)


_EYES = None


def eye_of_view(view: int) -> torch.Tensor:
    """The ``(3,)`` eye of one dataset view (cached table lookup)."""
    global _EYES
    if _EYES is None:
        _EYES = view_eyes(NUM_VIEWS)
    return _EYES[view]

