"""Step schedules: a value multiplied by ``gamma`` at each milestone (global step)."""
from __future__ import annotations

import bisect
from collections.abc import Sequence

__all__ = ["step_decay"]


def step_decay(initial: float, step: int, milestones: Sequence[int], gamma: float) -> float:
    """``initial * gamma ** (number of milestones <= step)``."""
    return initial * gamma ** bisect.bisect_right(sorted(milestones), step)
