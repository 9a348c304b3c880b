// The one counter-based random number generator of the package, for host and device.
//
// A random number is a pure function of (seed, stream, counter): no state, no order of draws,
// so the CPU (any thread count), CUDA and the plain-PyTorch references
// (renderers/random.py) produce the same samples for the same seed. The mixing function is the
// PCG-RXS-M-XS 32-bit output permutation (O'Neill 2014; "pcg_hash" in Jarzynski & Olano,
// "Hash Functions for GPU Rendering", JCGT 2020), applied in a chain over the 32-bit words of
// seed, stream and counter. Its multipliers are below 2^30, so every product of a 32-bit word
// by a multiplier fits in 62 bits: the PyTorch version computes it exactly in int64.
#pragma once

#include <cstdint>

#include "macros.h"

namespace renderers {

HOST_DEVICE FORCE_INLINE uint32_t pcg_hash(uint32_t input) {
  const uint32_t state = input * 747796405u + 2891336453u;
  const uint32_t word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// 32 random bits for (seed, stream, counter).
HOST_DEVICE FORCE_INLINE uint32_t random_bits(uint64_t seed, uint32_t stream, uint64_t counter) {
  uint32_t h = pcg_hash(uint32_t(seed) ^ 0x9e3779b9u);
  h = pcg_hash(h ^ uint32_t(seed >> 32));
  h = pcg_hash(h ^ stream);
  h = pcg_hash(h ^ uint32_t(counter >> 32));
  return pcg_hash(h ^ uint32_t(counter));
}

// Uniform in [0, 1) with 24 random bits: exact in float32 and float64 alike.
template <typename T>
HOST_DEVICE FORCE_INLINE T random_uniform(uint64_t seed, uint32_t stream, uint64_t counter) {
  return T(random_bits(seed, stream, counter) >> 8) * T(1.0 / 16777216.0);
}

}  // namespace renderers
