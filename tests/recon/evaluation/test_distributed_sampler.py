"""The evaluation sampler: disjoint, complete, unpadded, in order."""
from __future__ import annotations

import pytest

from recon.evaluation.distributed_sampler import EvaluationSampler


@pytest.mark.parametrize("size,world", [(7, 2), (6, 2), (5, 3), (1, 4), (0, 2)])
def test_every_sample_exactly_once(size, world):
    dataset = list(range(size))
    parts = [list(EvaluationSampler(dataset, world, rank)) for rank in range(world)]
    assert sorted(i for part in parts for i in part) == dataset
    assert [len(EvaluationSampler(dataset, world, r)) for r in range(world)] == [len(p) for p in parts]
    assert all(p == sorted(p) for p in parts)


def test_refuses_a_rank_outside_the_world():
    with pytest.raises(ValueError, match="rank 2 is not in"):
        EvaluationSampler(list(range(3)), 2, 2)
