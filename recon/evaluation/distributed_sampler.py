"""Evaluation under data parallelism: every sample exactly once.

Lightning's default evaluation sampler (``torch.utils.data.DistributedSampler``) pads a split
whose size is not a multiple of the process count with repeated samples, so a DDP evaluation
would count some samples twice and differ from a single-process one. This sampler gives
process ``rank`` the samples ``rank, rank + world, rank + 2 world, ...`` and nothing else
(processes may get one sample more than others; evaluation has no collective per batch, only
the metric's all-reduce at the end). Lightning keeps a sampler that is a ``DistributedSampler``
as it is, which is why this one subclasses it. (Lightning's own ``_UnrepeatedDistributedSampler``
does the same but is private.)
"""
from __future__ import annotations

from collections.abc import Iterator, Sized

from torch.utils.data import DistributedSampler

__all__ = ["EvaluationSampler"]


class EvaluationSampler(DistributedSampler):
    """Indices ``rank::world_size`` of a dataset of ``len(dataset)`` samples, in order."""

    def __init__(self, dataset: Sized, num_replicas: int, rank: int) -> None:
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False, drop_last=False)
        self.num_samples = len(range(rank, len(dataset), num_replicas))
        self.total_size = len(dataset)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, len(self.dataset), self.num_replicas))

    def __len__(self) -> int:
        return self.num_samples
