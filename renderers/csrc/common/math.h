// Scalar math written once for host and device, overloaded for float and double so
// that templates over scalar_t pick the right precision on both sides.
#pragma once

#include <cmath>

#include "macros.h"

namespace renderers {

HOST_DEVICE FORCE_INLINE float sqrt_(float x) { return sqrtf(x); }
HOST_DEVICE FORCE_INLINE double sqrt_(double x) { return sqrt(x); }
HOST_DEVICE FORCE_INLINE float floor_(float x) { return floorf(x); }
HOST_DEVICE FORCE_INLINE double floor_(double x) { return floor(x); }
HOST_DEVICE FORCE_INLINE float ceil_(float x) { return ceilf(x); }
HOST_DEVICE FORCE_INLINE double ceil_(double x) { return ceil(x); }

template <typename T>
HOST_DEVICE FORCE_INLINE T min_(T a, T b) { return b < a ? b : a; }
template <typename T>
HOST_DEVICE FORCE_INLINE T max_(T a, T b) { return a < b ? b : a; }
template <typename T>
HOST_DEVICE FORCE_INLINE T clamp_(T x, T lo, T hi) { return min_(max_(x, lo), hi); }

// exp(x) for x <= 0: the only exponentials the renderers need (weights relative to a
// running maximum, and sigmoid(-|x|)); never overflows.
HOST_DEVICE FORCE_INLINE float exp_nonpositive(float x) { return expf(x); }
HOST_DEVICE FORCE_INLINE double exp_nonpositive(double x) { return exp(x); }

// Logistic sigmoid D = 1 / (1 + exp(-x)) and its complement 1 - D, from one exponential.
template <typename T>
HOST_DEVICE FORCE_INLINE void sigmoid_pair(T x, T& sigmoid, T& complement) {
  const T e = exp_nonpositive(x >= T(0) ? -x : x);  // exp(-|x|) in (0, 1]
  const T inv = T(1) / (T(1) + e);
  sigmoid = x >= T(0) ? inv : e * inv;
  complement = x >= T(0) ? e * inv : inv;
}

// Smallest normal number of T: products below it are flushed to zero so that deep
// interiors never fall into (slow) subnormal arithmetic.
template <typename T>
HOST_DEVICE FORCE_INLINE T smallest_normal();
template <>
HOST_DEVICE FORCE_INLINE float smallest_normal<float>() { return 1.17549435e-38f; }
template <>
HOST_DEVICE FORCE_INLINE double smallest_normal<double>() { return 2.2250738585072014e-308; }

}  // namespace renderers
