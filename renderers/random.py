"""The package's counter-based random numbers in plain PyTorch (``csrc/common/random.h``).

A number is a pure function of ``(seed, stream, counter)``, so the compiled kernels (CPU, any
thread count, CUDA) and the PyTorch references draw identical samples for one seed. The mixing
function is the PCG-RXS-M-XS 32-bit permutation ("pcg_hash", Jarzynski & Olano 2020) chained over
the 32-bit words of seed, stream and counter; its multipliers are below 2^30, so the products are
exact in int64.
"""

from __future__ import annotations

import torch

__all__ = ["pcg_hash", "random_bits", "random_uniform", "fresh_seed"]

_MASK = 0xFFFFFFFF


def pcg_hash(x: torch.Tensor) -> torch.Tensor:
    """PCG-RXS-M-XS of 32-bit words held in an int64 tensor (values in [0, 2^32))."""
    state = (x * 747796405 + 2891336453) & _MASK
    word = (((state >> ((state >> 28) + 4)) ^ state) * 277803737) & _MASK
    return ((word >> 22) ^ word) & _MASK


def random_bits(seed: int, stream: int, counters: torch.Tensor) -> torch.Tensor:
    """32 random bits (int64 in [0, 2^32)) for int64 ``counters`` (any shape, non-negative)."""
    seed &= (1 << 64) - 1
    counters = counters.to(torch.int64)
    h = pcg_hash(torch.tensor((seed & _MASK) ^ 0x9E3779B9, dtype=torch.int64))
    h = pcg_hash(h ^ (seed >> 32))
    h = pcg_hash(h ^ (stream & _MASK))
    h = pcg_hash(h ^ (counters >> 32))
    return pcg_hash(h ^ (counters & _MASK))


def random_uniform(seed: int, stream: int, counters: torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Uniform numbers in [0, 1) with 24 random bits (exact in float32 and float64)."""
    return (random_bits(seed, stream, counters) >> 8).to(dtype) * (1.0 / 16777216.0)


def fresh_seed() -> int:
    """A seed drawn from torch's default CPU generator (``torch.manual_seed`` makes it repeatable)."""
    return int(torch.randint(0, 2**62, (), dtype=torch.int64))
