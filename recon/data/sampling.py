"""Training sampling as the references do it.

For each sample: a class uniformly at random, then an object uniformly within it, then
two independent views ``a`` and ``b`` (they may be equal).

The sampler runs in the main process and hands keys to the DataLoader, which spreads
them over workers, so worker count never changes the stream and no two workers can
produce duplicates. The stream is a pure function of ``(seed, epoch)``.

Resuming mid-epoch: :meth:`ClassBalancedPairSampler.resume` makes the next iteration start
at a given key of a given epoch, so a restarted run continues the interrupted run's sequence
exactly (:class:`recon.resume.ExactResume` saves the position in the checkpoint). The sampler
does not count the keys consumed itself: DataLoader workers and Lightning's prefetching draw
keys ahead of the training step, so only the training loop knows how many were used.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from recon.data.cameras import NUM_VIEWS


class ClassBalancedPairSampler(Sampler[tuple[int, int, int, int]]):
    """Yields ``num_samples`` keys ``(category, object_in_category, view_a, view_b)``.

    ``objects_per_category[c]`` is the object count of category ``c`` (empty categories
    are never chosen). Each ``__iter__`` uses epoch ``self.epoch`` and then advances it,
    unless :meth:`set_epoch` is called first (as Lightning does). :attr:`iteration_epoch` is
    the epoch of the iteration in progress (the last one started).
    """

    def __init__(self, objects_per_category: Sequence[int], num_samples: int, seed: int = 0,
                 num_views: int = NUM_VIEWS) -> None:
        self.counts = torch.tensor(list(objects_per_category), dtype=torch.long)
        self.classes = torch.nonzero(self.counts > 0).flatten()
        if len(self.classes) == 0:
            raise ValueError("ClassBalancedPairSampler: every category is empty")
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.num_views = num_views
        self.epoch = 0
        self.iteration_epoch = 0
        self._resume: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def keys(self, epoch: int) -> torch.Tensor:
        """All keys of ``epoch`` as an ``(num_samples, 4)`` int64 tensor."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        n = self.num_samples
        c = self.classes[torch.randint(len(self.classes), (n,), generator=g)]
        obj = (torch.rand(n, generator=g, dtype=torch.float64) * self.counts[c]).long()
        obj = torch.minimum(obj, self.counts[c] - 1)
        views = torch.randint(self.num_views, (n, 2), generator=g)
        return torch.stack((c, obj, views[:, 0], views[:, 1]), dim=1)

    def resume(self, epoch: int, start: int) -> None:
        """The next iteration yields epoch ``epoch``'s keys from key ``start`` on (``start`` >=
        ``num_samples``: epoch ``epoch + 1`` from its first key); later iterations are as
        usual. A :meth:`set_epoch` to another epoch before that iteration cancels it.

        The resumed iteration still has ``num_samples`` keys, the first ``start`` ones
        appended after the rest: a resumed epoch consumes only the first ``num_samples - start``
        (the training loop knows how many batches the epoch has left), and keeping the length
        lets Lightning's ``DistributedSamplerWrapper`` shard it between processes as usual."""
        epoch, start = int(epoch), int(start)
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        epoch, start = epoch + start // self.num_samples, start % self.num_samples
        self.epoch = epoch
        self._resume = (epoch, start)

    def __iter__(self) -> Iterator[tuple[int, int, int, int]]:
        epoch = self.epoch
        start = self._resume[1] if self._resume is not None and self._resume[0] == epoch else 0
        self._resume = None
        keys = self.keys(epoch)
        self.iteration_epoch = epoch
        self.epoch += 1
        if start:
            keys = torch.cat((keys[start:], keys[:start]))
        for row in keys.tolist():
            yield tuple(row)
