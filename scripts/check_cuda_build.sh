#!/usr/bin/env bash
# Compiles and links the extension WITH its CUDA kernels into a scratch folder, so the
# CUDA sources never rot even on machines without a GPU (nothing is launched).
# Needs nvcc (REFERENCE section 9: CUDA_HOME=/usr/local/cuda on these machines).
set -euo pipefail
cd "$(dirname "$0")/.."
export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
if [ ! -x "$CUDA_HOME/bin/nvcc" ]; then
  echo "[cuda-build] no nvcc under $CUDA_HOME: skipped"
  exit 0
fi
if .venv/bin/python -c "import renderers._C as C, sys; sys.exit(0 if C.with_cuda else 1)" 2>/dev/null; then
  echo "[cuda-build] ok: the installed renderers._C was compiled and linked with its CUDA kernels"
  exit 0
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
echo "[cuda-build] compiling renderers._C with CUDA kernels ($("$CUDA_HOME/bin/nvcc" --version | tail -1))"
RENDERERS_CUDA=1 TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} .venv/bin/python setup.py -q build_ext \
  --build-temp "$scratch/tmp" --build-lib "$scratch/lib" > "$scratch/log" 2>&1 || { cat "$scratch/log"; exit 1; }
so=$(find "$scratch/lib" -name '_C*.so' | head -1)
nm -D "$so" > "$scratch/symbols"  # (grep -q on a pipe could SIGPIPE nm under pipefail)
for symbol in soft_rasterize_forward_cuda rasterize_forward_cuda kato_backward_cuda gather_faces_backward_cuda \
    opendr_forward_cuda opendr_backward_cuda edge_forward_cuda edge_backward_cuda; do
  grep -q "$symbol" "$scratch/symbols" || { echo "[cuda-build] CUDA symbol $symbol missing in $so"; exit 1; }
done
echo "[cuda-build] ok: $(basename "$so") links the CUDA kernels"
