// The CPU's vector width for the lane-generic kernels, chosen at run time.
//
// Widths: 1 (scalar), 4 (SSE2 on x86-64, or the CPU's 128-bit vectors elsewhere), 8 (AVX2 +
// FMA), 16 (AVX-512F/DQ/VL/BW + FMA). The default is the widest this CPU runs; RENDERERS_SIMD=scalar|
// sse|avx2|avx512 (or 1|4|8|16) caps it for a process, RENDERERS_NO_AVX2=1 caps it at 4, and
// set_cpu_lane_width changes it for later calls (tests iterate over every supported width).
#pragma once

#include <vector>

namespace renderers {

std::vector<int> supported_cpu_lane_widths();  // ascending; always holds 1
int cpu_lane_width();
// Sets the width for later calls (0: the default); an error names the supported widths when this
// build or CPU lacks `width`. Returns the previous width.
int set_cpu_lane_width(int width);

}  // namespace renderers
