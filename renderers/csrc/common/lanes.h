// Packs of float lanes for the CPU: the value type that lane-generic kernel math (written once
// over a value type V, see math.h for the scalar side) is instantiated with on the host.
//
// FloatPack<kCols, kRows> holds the kCols x kRows pixels of a block of an image: lane
// l = j * kCols + i is column c + i of row r + j. Its operations are GCC/Clang vector
// extensions only (no intrinsics), so the one generic source compiles to whatever the
// enclosing function is compiled for: a function under `#pragma GCC target("avx512f,...")`
// that inlines the math gets 16-lane AVX-512 code, one under "avx2,fma" 8-lane AVX2 with fused
// multiply-adds (GCC contracts a * b + c), the default x86-64 target SSE2. Every function here
// is always-inline, so no pack ever crosses a call boundary (no ABI concerns between targets).
//
// Masks (MaskPack) are lane-wise all-ones / all-zeros int32, combined with &, |, ! like the
// scalar bool masks of math.h, and consumed by pick(mask, a, b) and any_lane(mask).
// Host only: CUDA instantiates the same math with scalars.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__GNUC__) && !defined(__CUDACC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#endif

#include "macros.h"
#include "math.h"

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // packs never cross a call boundary (always inlined)
#endif

namespace renderers {

// Blocks of pixels: a scalar is the 1 x 1 block; FloatPack below specialises this.
template <class V>
struct BlockShape {
  static constexpr int kCols = 1, kRows = 1;
};

}  // namespace renderers

#if defined(__GNUC__) && !defined(__CUDACC__)
#define RENDERERS_HAVE_PACKS 1

namespace renderers {

// The vector types of 4, 8 and 16 lanes, named for concrete sizes: GCC mishandles a
// vector_size attribute whose size depends on a template parameter (it treats the typedef as
// the element type when checking overloads), so the packs look their types up here.
template <int kLanes>
struct LaneVectors;
#define RENDERERS_LANE_VECTORS(lanes)                                \
  template <>                                                        \
  struct LaneVectors<lanes> {                                        \
    typedef float Floats __attribute__((vector_size(4 * lanes)));    \
    typedef int32_t Ints __attribute__((vector_size(4 * lanes)));    \
  };
RENDERERS_LANE_VECTORS(4)
RENDERERS_LANE_VECTORS(8)
RENDERERS_LANE_VECTORS(16)
#undef RENDERERS_LANE_VECTORS

template <int kCols, int kRows>
struct MaskPack {
  static constexpr int kLanes = kCols * kRows;
  using Bits = typename LaneVectors<kLanes>::Ints;
  Bits m;
};

template <int kCols, int kRows>
struct FloatPack {
  static constexpr int kLanes = kCols * kRows;
  using Values = typename LaneVectors<kLanes>::Floats;
  using Mask = MaskPack<kCols, kRows>;
  Values v;
  FloatPack() = default;
  FORCE_INLINE FloatPack(float s) : v(Values{} + s) {}  // broadcast (implicit, as for scalars)
  FORCE_INLINE explicit FloatPack(Values values) : v(values) {}
};

#define RENDERERS_PACK template <int C, int R> FORCE_INLINE
#define RENDERERS_PACK_ARITHMETIC(op)                                                                           \
  RENDERERS_PACK FloatPack<C, R> operator op(FloatPack<C, R> a, FloatPack<C, R> b) {                            \
    return FloatPack<C, R>(a.v op b.v);                                                                         \
  }                                                                                                             \
  RENDERERS_PACK FloatPack<C, R> operator op(FloatPack<C, R> a, float b) { return FloatPack<C, R>(a.v op b); } \
  RENDERERS_PACK FloatPack<C, R> operator op(float a, FloatPack<C, R> b) { return FloatPack<C, R>(a op b.v); } \
  RENDERERS_PACK FloatPack<C, R>& operator op##=(FloatPack<C, R>& a, FloatPack<C, R> b) {                       \
    a.v = a.v op b.v;                                                                                           \
    return a;                                                                                                   \
  }
RENDERERS_PACK_ARITHMETIC(+)
RENDERERS_PACK_ARITHMETIC(-)
RENDERERS_PACK_ARITHMETIC(*)
RENDERERS_PACK_ARITHMETIC(/)
#undef RENDERERS_PACK_ARITHMETIC

RENDERERS_PACK FloatPack<C, R> operator-(FloatPack<C, R> a) { return FloatPack<C, R>(-a.v); }

#define RENDERERS_PACK_COMPARISON(op)                                                                           \
  RENDERERS_PACK MaskPack<C, R> operator op(FloatPack<C, R> a, FloatPack<C, R> b) { return {a.v op b.v}; }      \
  RENDERERS_PACK MaskPack<C, R> operator op(FloatPack<C, R> a, float b) { return {a.v op b}; }                  \
  RENDERERS_PACK MaskPack<C, R> operator op(float a, FloatPack<C, R> b) { return {a op b.v}; }
RENDERERS_PACK_COMPARISON(<)
RENDERERS_PACK_COMPARISON(<=)
RENDERERS_PACK_COMPARISON(>)
RENDERERS_PACK_COMPARISON(>=)
RENDERERS_PACK_COMPARISON(!=)
RENDERERS_PACK_COMPARISON(==)
#undef RENDERERS_PACK_COMPARISON

RENDERERS_PACK MaskPack<C, R> operator&(MaskPack<C, R> a, MaskPack<C, R> b) { return {a.m & b.m}; }
RENDERERS_PACK MaskPack<C, R> operator|(MaskPack<C, R> a, MaskPack<C, R> b) { return {a.m | b.m}; }
RENDERERS_PACK MaskPack<C, R> operator!(MaskPack<C, R> a) { return {~a.m}; }
RENDERERS_PACK MaskPack<C, R>& operator&=(MaskPack<C, R>& a, MaskPack<C, R> b) { return a = a & b; }
RENDERERS_PACK MaskPack<C, R>& operator|=(MaskPack<C, R>& a, MaskPack<C, R> b) { return a = a | b; }

// The lane-generic operations of math.h, for packs.
RENDERERS_PACK FloatPack<C, R> pick(MaskPack<C, R> mask, FloatPack<C, R> a, FloatPack<C, R> b) {
  return FloatPack<C, R>(mask.m ? a.v : b.v);
}
// The operations below use the instruction set that the including unit is compiled for: SSE2
// (the x86-64 baseline), or AVX2 / AVX-512 in a unit that defines RENDERERS_UNIT_AVX2 /
// RENDERERS_UNIT_AVX512 before it includes this header (the target macros such as __AVX2__ do
// not follow a #pragma GCC target in C++), with a plain vector-extension form for other CPUs.
RENDERERS_PACK bool any_lane(MaskPack<C, R> mask) {
  constexpr int kBytes = int(sizeof(mask.m));
#if defined(RENDERERS_UNIT_AVX512)
  if constexpr (kBytes == 64) return _mm512_test_epi32_mask((__m512i)mask.m, (__m512i)mask.m) != 0;
#endif
#if defined(RENDERERS_UNIT_AVX2) || defined(RENDERERS_UNIT_AVX512)
  if constexpr (kBytes == 32) return !_mm256_testz_si256((__m256i)mask.m, (__m256i)mask.m);
#endif
#if defined(__SSE2__)
  if constexpr (kBytes == 16) return _mm_movemask_ps((__m128)mask.m) != 0;
#endif
  int32_t any = 0;
  for (int l = 0; l < C * R; ++l) any |= mask.m[l];
  return any != 0;
}
RENDERERS_PACK FloatPack<C, R> clamp01(FloatPack<C, R> x) {  // x is never NaN here
  using Pack = FloatPack<C, R>;
  constexpr int kBytes = int(sizeof(x.v));
#if defined(RENDERERS_UNIT_AVX512)
  if constexpr (kBytes == 64)
    return Pack((typename Pack::Values)_mm512_min_ps(_mm512_max_ps((__m512)x.v, _mm512_setzero_ps()),
                                                     _mm512_set1_ps(1.0f)));
#endif
#if defined(RENDERERS_UNIT_AVX2) || defined(RENDERERS_UNIT_AVX512)
  if constexpr (kBytes == 32)
    return Pack((typename Pack::Values)_mm256_min_ps(_mm256_max_ps((__m256)x.v, _mm256_setzero_ps()),
                                                     _mm256_set1_ps(1.0f)));
#endif
#if defined(__SSE2__)
  if constexpr (kBytes == 16)
    return Pack((typename Pack::Values)_mm_min_ps(_mm_max_ps((__m128)x.v, _mm_setzero_ps()), _mm_set1_ps(1.0f)));
#endif
  x = pick(x < 0.0f, Pack(0.0f), x);
  return pick(x > 1.0f, Pack(1.0f), x);
}
RENDERERS_PACK FloatPack<C, R> abs_(FloatPack<C, R> x) { return pick(x < 0.0f, -x, x); }

// 1 / x for x in [1, 2] (math.h): with AVX, the hardware estimate (12 bits, or 14 with AVX-512)
// and one Newton step, relative error below 3e-7; a division otherwise.
RENDERERS_PACK FloatPack<C, R> reciprocal_1_2(FloatPack<C, R> x) {
  using Pack = FloatPack<C, R>;
  constexpr int kBytes = int(sizeof(x.v));
#if defined(RENDERERS_UNIT_AVX512)
  if constexpr (kBytes == 64) {
    const Pack estimate((typename Pack::Values)_mm512_rcp14_ps((__m512)x.v));
    return estimate + estimate * (1.0f - x * estimate);
  }
#endif
#if defined(RENDERERS_UNIT_AVX2) || defined(RENDERERS_UNIT_AVX512)
  if constexpr (kBytes == 32) {
    const Pack estimate((typename Pack::Values)_mm256_rcp_ps((__m256)x.v));
    return estimate + estimate * (1.0f - x * estimate);
  }
#endif
  return 1.0f / x;
}

// exp(x) for x <= 0: Cody-Waite reduction to |r| <= ln2 / 2, then a degree-6 Taylor polynomial
// (truncation below 1.7e-7 relative, so within 3e-7 of expf); 0 below -87.
RENDERERS_PACK FloatPack<C, R> exp_nonpositive(FloatPack<C, R> x) {
  typedef typename MaskPack<C, R>::Bits Ints;
  using Pack = FloatPack<C, R>;
  const MaskPack<C, R> live = x > -87.0f;
  const Pack clamped = pick(live, x, Pack(-87.0f));
  const Ints n_int = __builtin_convertvector((clamped * 1.44269504f - 0.5f).v, Ints);  // round to nearest
  const Pack n(__builtin_convertvector(n_int, typename Pack::Values));
  const Pack r = n * 2.12194440e-4f + (n * -0.693359375f + clamped);
  Pack poly = 1.0f / 720.0f;
  poly = poly * r + 1.0f / 120.0f;
  poly = poly * r + 1.0f / 24.0f;
  poly = poly * r + 1.0f / 6.0f;
  poly = poly * r + 0.5f;
  poly = poly * r + 1.0f;
  poly = poly * r + 1.0f;
  const Ints bits = (n_int + 127) << 23;
  Pack scale;
  std::memcpy(&scale.v, &bits, sizeof(scale.v));
  return pick(live, poly * scale, Pack(0.0f));
}

// Lane sums of 4, 8 and 16 lanes by halves (lane_sum).
FORCE_INLINE float tree_sum(LaneVectors<4>::Floats v) { return (v[0] + v[2]) + (v[1] + v[3]); }
FORCE_INLINE float tree_sum(LaneVectors<8>::Floats v) {
  return tree_sum(LaneVectors<4>::Floats(__builtin_shufflevector(v, v, 0, 1, 2, 3) +
                                         __builtin_shufflevector(v, v, 4, 5, 6, 7)));
}
FORCE_INLINE float tree_sum(LaneVectors<16>::Floats v) {
  return tree_sum(LaneVectors<8>::Floats(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                                         __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15)));
}

// The two 8-column rows of a 16-lane vector, and back.
typedef LaneVectors<8>::Floats Row8;
FORCE_INLINE LaneVectors<16>::Floats join_rows(Row8 first, Row8 second) {
  return __builtin_shufflevector(first, second, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
FORCE_INLINE Row8 first_row(LaneVectors<16>::Floats v) { return __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7); }
FORCE_INLINE Row8 second_row(LaneVectors<16>::Floats v) {
  return __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
}

template <int C, int R>
struct BlockShape<FloatPack<C, R>> {
  static constexpr int kCols = C, kRows = R;
};
template <int C, int R>
struct LaneScalar<FloatPack<C, R>> {
  using type = float;
};

}  // namespace renderers

#endif  // RENDERERS_HAVE_PACKS

namespace renderers {

// ---------------------------------------------------------------------------------------
// How the CPU drivers move a block of kRows rows of kCols values between memory and a value
// (scalar or pack). Rows are `stride` values apart; stride 0 repeats one row.

template <class V, class S>
FORCE_INLINE V load_block(const S* p, int64_t stride) {
  if constexpr (BlockShape<V>::kCols == 1 && BlockShape<V>::kRows == 1) {
    (void)stride;
    return V(*p);
  } else if constexpr (BlockShape<V>::kRows == 2) {  // two rows joined by a shuffle, not through memory
    typename LaneVectors<BlockShape<V>::kCols>::Floats first, second;
    std::memcpy(&first, p, sizeof(first));
    std::memcpy(&second, p + stride, sizeof(second));
    return V(join_rows(first, second));
  } else {
    static_assert(BlockShape<V>::kRows == 1, "blocks are of one or two rows");
    V out;
    std::memcpy(&out.v, p, sizeof(out.v));
    return out;
  }
}

template <class V, class S>
FORCE_INLINE void store_block(S* p, int64_t stride, V value) {
  if constexpr (BlockShape<V>::kCols == 1 && BlockShape<V>::kRows == 1) {
    (void)stride;
    *p = value;
  } else if constexpr (BlockShape<V>::kRows == 2) {
    const auto first = first_row(value.v), second = second_row(value.v);
    std::memcpy(p, &first, sizeof(first));
    std::memcpy(p + stride, &second, sizeof(second));
  } else {
    std::memcpy(p, &value.v, sizeof(value.v));
  }
}

// The block's row coordinates: lane (i, j) gets ys[j].
template <class V, class S>
FORCE_INLINE V block_rows(const S* ys) {
  if constexpr (BlockShape<V>::kCols == 1 && BlockShape<V>::kRows == 1) {
    return V(*ys);
  } else {
    V out;
    for (int l = 0; l < BlockShape<V>::kCols * BlockShape<V>::kRows; ++l) out.v[l] = ys[l / BlockShape<V>::kCols];
    return out;
  }
}

// Lanes of the block at (row r, column c) that lie within rows <= last_row, columns <= last_col.
template <class V>
FORCE_INLINE auto block_span(int r, int c, int last_row, int last_col) {
  if constexpr (BlockShape<V>::kCols == 1 && BlockShape<V>::kRows == 1) {
    return r <= last_row && c <= last_col;
  } else {
    constexpr int kCols = BlockShape<V>::kCols, kLanes = kCols * BlockShape<V>::kRows;
    typename V::Mask::Bits cols, rows;
    for (int l = 0; l < kLanes; ++l) {
      cols[l] = l % kCols;
      rows[l] = l / kCols;
    }
    return typename V::Mask{(cols <= last_col - c) & (rows <= last_row - r)};
  }
}

// Sum of the lanes by a fixed pairwise tree (halves added lane-wise down to 4 lanes, then
// (l0 + l2) + (l1 + l3)): deterministic, and a few vector additions instead of a serial chain of
// one addition per lane (which cost 8 % of the 16-lane backward on small faces).
template <class V>
FORCE_INLINE auto lane_sum(V value) {
  if constexpr (BlockShape<V>::kCols == 1 && BlockShape<V>::kRows == 1) {
    return value;
  } else {
    return tree_sum(value.v);
  }
}

}  // namespace renderers

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
