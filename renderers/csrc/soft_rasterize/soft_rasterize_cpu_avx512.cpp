// The 16-lane SoftRas silhouette kernels (AVX-512 + FMA, 8 columns x 2 rows:
// faces' boxes are a few pixels wide), chosen at run time by common/cpu_lanes.h.
// Everything below the pragma is compiled for its target, which stays in force to the end of the
// file (see soft_rasterize_silhouette.h for why, and for what this unit may hold). The library
// headers come first, under the extension's own target.
#include <ATen/ATen.h>
#include <cmath>
#include <cstring>

#if defined(__x86_64__) && !defined(__clang__)
#pragma GCC target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")
#pragma GCC optimize("fp-contract=fast")  // fused multiply-adds (the rest of the extension keeps them off)
#define RENDERERS_UNIT_AVX512 1  // lanes.h: this unit's instructions
#include "soft_rasterize_silhouette.h"
RENDERERS_SILHOUETTE_UNIT(lanes16, FloatPack<8, 2>)
#endif
