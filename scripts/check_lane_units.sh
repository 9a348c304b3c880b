#!/usr/bin/env bash
# Checks that the wide-lane units (renderers/csrc/**/*_avx2.cpp, *_avx512.cpp), whose code is
# compiled for AVX2 / AVX-512 to the end of the file, export nothing but their entry tables: a
# weak (inline or template) function defined there could be picked by the linker for another
# unit's calls and run AVX-512 instructions on a CPU without them. Compiles each unit alone with
# the extension's flags (setup.py) and lists its defined external symbols.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
includes=$(.venv/bin/python -c "from torch.utils.cpp_extension import include_paths; print(' '.join('-I' + p for p in include_paths()))")
python_include=$(.venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['include'])")
status=0
for unit in $(find renderers/csrc -name '*_avx2.cpp' -o -name '*_avx512.cpp' | sort); do
  object="$scratch/$(basename "$unit" .cpp).o"
  c++ -O3 -std=c++20 -fopenmp -ffp-contract=off -Wno-psabi -fPIC -Irenderers/csrc $includes -I"$python_include" \
    -DTORCH_API_INCLUDE_EXTENSION_H -DTORCH_EXTENSION_NAME=_C -c "$unit" -o "$object"
  nm -C --defined-only --extern-only "$object" > "$scratch/symbols"
  unexpected=$(grep -v -E ' renderers::lanes[0-9]+_kernels\(\)$' "$scratch/symbols" || true)
  if [ -n "$unexpected" ]; then
    echo "[lane-units] $unit defines more than its entry table:"
    echo "$unexpected"
    status=1
  else
    echo "[lane-units] ok: $unit exports $(awk '{print $3}' "$scratch/symbols" | tr '\n' ' ')"
  fi
done
exit $status
