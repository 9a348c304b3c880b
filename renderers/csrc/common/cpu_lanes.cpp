#include "cpu_lanes.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <sstream>
#include <string>

#include "macros.h"

#include <c10/util/Exception.h>

namespace renderers {
namespace {

bool cpu_has(int width) {
  if (width == 1 || width == 4) return true;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  if (width == 8) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (width == 16)  // the instruction sets the 16-lane variant is compiled for
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("fma");
#endif
  return false;
}

int parse_width(const std::string& name) {
  if (name == "scalar" || name == "1") return 1;
  if (name == "sse" || name == "4") return 4;
  if (name == "avx2" || name == "8") return 8;
  if (name == "avx512" || name == "16") return 16;
  return -1;
}

int default_width() {
  const std::vector<int> widths = supported_cpu_lane_widths();
  int cap = 16;  // the widest: 16 lanes are the fastest where AVX-512 is present (README "Speed")
  if (const char* simd = std::getenv("RENDERERS_SIMD")) {
    const int parsed = parse_width(simd);
    RENDERERS_CHECK(parsed > 0, "RENDERERS_SIMD must be one of scalar, sse, avx2, avx512 (or 1, 4, 8, 16), got '",
                    simd, "'");
    cap = parsed;
  }
  if (std::getenv("RENDERERS_NO_AVX2") != nullptr) cap = std::min(cap, 4);
  int width = 1;
  for (const int w : widths)
    if (w <= cap) width = w;
  return width;
}

std::atomic<int>& current_width() {
  static std::atomic<int> width{default_width()};
  return width;
}

}  // namespace

std::vector<int> supported_cpu_lane_widths() {
  std::vector<int> widths;
  for (const int w : {1, 4, 8, 16})
    if (cpu_has(w)) widths.push_back(w);
  return widths;
}

int cpu_lane_width() { return current_width().load(std::memory_order_relaxed); }

int set_cpu_lane_width(int width) {
  const int target = width == 0 ? default_width() : width;
  if (!cpu_has(target)) {
    std::ostringstream supported;
    for (const int w : supported_cpu_lane_widths()) supported << " " << w;
    RENDERERS_CHECK(false, "this CPU (or build) has no ", target, "-lane path; supported widths:", supported.str());
  }
  return current_width().exchange(target);
}

}  // namespace renderers
