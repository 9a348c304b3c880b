"""Value checks that need a device-to-host copy, read back together in one.

A render call checks that its vertices, eye, textures and lights are finite, its face indices in
range, its light intensities non-negative. Each such check reduces a tensor to a scalar on its
device; reading each scalar back is one host sync on a GPU. :class:`HostChecks` collects the
reductions of a call and reads them back with one copy per device (:meth:`HostChecks.resolve`),
then raises the first failure in the order the checks were added. The compiled ops then skip
their own copies of those checks (``indices_checked=True`` of :mod:`renderers.gather`).

    checks = HostChecks()
    checks.add([torch.isfinite(x).all()], lambda finite: None if finite else ValueError("x is not finite"))
    checks.resolve()  # one device-to-host copy, then the first error (if any) is raised
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch

__all__ = ["HostChecks", "adding_to"]

Verdict = Callable[..., Exception | None]


class HostChecks:
    """Deferred value checks of one call (see the module docstring)."""

    def __init__(self) -> None:
        self._checks: list[tuple[list[torch.Tensor], Verdict]] = []

    def add(self, values: Sequence[torch.Tensor], verdict: Verdict) -> None:
        """Adds a check: ``values`` are 0-dim tensors (bool, integer or floating; integers are read
        exactly up to 2^53), ``verdict`` receives them as Python floats and returns the exception to
        raise, or ``None`` when they pass."""
        self._checks.append((list(values), verdict))

    def resolve(self) -> None:
        """Reads every value back (one copy per device) and raises the first failing check's error."""
        checks, self._checks = self._checks, []
        by_device: dict[torch.device, list[torch.Tensor]] = {}
        for values, _ in checks:
            for value in values:
                by_device.setdefault(value.device, []).append(value.detach().reshape(()).double())
        read = {device: iter(torch.stack(values).tolist()) for device, values in by_device.items()}
        results = [(verdict, [next(read[value.device]) for value in values]) for values, verdict in checks]
        for verdict, numbers in results:
            error = verdict(*numbers)
            if error is not None:
                raise error


@contextlib.contextmanager
def adding_to(checks: HostChecks | None) -> Iterator[HostChecks]:
    """The checks a validating function adds to: the caller's ``checks`` (resolved by the caller),
    or, for ``None``, its own, resolved when the block ends without an error."""
    if checks is not None:
        yield checks
        return
    own = HostChecks()
    yield own
    own.resolve()
