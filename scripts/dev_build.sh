#!/usr/bin/env bash
# Developer rebuild of the CPU extension into the checkout without disturbing running processes:
# compiled into a temporary folder, then renamed over renderers/_C*.so (processes that loaded the
# old library keep their mapping). RENDERERS_CUDA=1 builds the CUDA kernels too.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=$(mktemp -d)
MAX_JOBS=${MAX_JOBS:-2} RENDERERS_CUDA=${RENDERERS_CUDA:-0} .venv/bin/python setup.py -q build_ext \
  --build-lib "$lib" --build-temp "${BUILD_TEMP:-/tmp/renderers-devbuild}" >/dev/null
for so in "$lib"/renderers/_C*.so; do
  cp "$so" "renderers/.$(basename "$so").new"
  mv -f "renderers/.$(basename "$so").new" "renderers/$(basename "$so")"
done
rm -rf "$lib"
echo "[dev_build] renderers/_C rebuilt"
