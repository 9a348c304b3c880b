#!/usr/bin/env bash
# Creates .venv (if missing) and installs the project with its compiled extension.
# Idempotent: the (slow) extension build is skipped when its sources are unchanged.
#   RENDERERS_CUDA=0|1  force the CUDA kernels off/on (default: built when nvcc is found)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --disable-pip-version-check -q)

# torch first: the extension builds against it without an isolated build environment.
if ! .venv/bin/python -c "import torch, torchvision" 2>/dev/null; then
  echo "[setup] installing torch and torchvision"
  "${PIP[@]}" "torch>=2.4,<=2.14.1" "torchvision>=0.19,<=0.29.1"
fi
"${PIP[@]}" "setuptools>=69" wheel ninja

stamp=.venv/.diffmesh-build-stamp
digest=$(cat setup.py pyproject.toml $(find renderers/csrc -type f | sort) | sha256sum | cut -d' ' -f1)-${RENDERERS_CUDA:-auto}
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ] && .venv/bin/python -c "import renderers._C" 2>/dev/null; then
  echo "[setup] up to date"
else
  echo "[setup] installing the project and compiling its renderer extension (a few minutes)"
  rm -f "$stamp"
  "${PIP[@]}" --no-build-isolation -e ".[test]"
  .venv/bin/python -c "import renderers._C as C; print('[setup] renderers extension built, CUDA kernels:', C.with_cuda)"
  echo "$digest" > "$stamp"
fi
