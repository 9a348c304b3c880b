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

// Lane-generic operations. Kernel math written once over a value type V runs with V a scalar
// (float or double: the CUDA kernels, the scalar CPU path) or, on the CPU, a pack of float lanes
// (common/lanes.h, which overloads these). Masks are bool for scalars; combine them with &, |
// and ! only (no && or ||, which packs cannot short-circuit).
template <typename V>
using mask_t = decltype(V() < V());  // bool for scalars
template <typename V>
struct LaneScalar {
  using type = V;  // the scalar type of one lane (lanes.h specialises it for packs)
};
template <typename V>
using lane_scalar_t = typename LaneScalar<V>::type;
template <typename V>
HOST_DEVICE FORCE_INLINE mask_t<V> no_lanes() { return V(0) != V(0); }
template <typename T>
HOST_DEVICE FORCE_INLINE T pick(bool mask, T a, T b) { return mask ? a : b; }
HOST_DEVICE FORCE_INLINE bool any_lane(bool mask) { return mask; }
template <typename T>
HOST_DEVICE FORCE_INLINE T clamp01(T x) { return clamp_(x, T(0), T(1)); }
template <typename T>
HOST_DEVICE FORCE_INLINE T abs_(T x) { return x < T(0) ? -x : x; }
// 1 / x for x in [1, 2] (packs may use a hardware estimate refined to float precision, lanes.h).
template <typename T>
HOST_DEVICE FORCE_INLINE T reciprocal_1_2(T x) { return T(1) / x; }

// Logistic sigmoid D = 1 / (1 + exp(-x)) and its complement 1 - D, from one exponential
// (lane-generic).
template <typename V>
HOST_DEVICE FORCE_INLINE void sigmoid_pair(V x, V& sigmoid, V& complement) {
  const auto positive = x >= V(0);
  const V e = exp_nonpositive(pick(positive, -x, x));  // exp(-|x|) in (0, 1]
  const V inv = reciprocal_1_2(V(1) + e);
  sigmoid = pick(positive, inv, e * inv);
  complement = pick(positive, e * inv, inv);
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
