"""The CUDA sources stay launch code only: every kernel is a per-thread function run through
``CudaLauncher`` (renderers/csrc/common/launch_cuda.cuh), whose one ``__global__`` wrapper is
the bounds check and the call, so the emulated launches (the same functions run serially on the
CPU) cover every line the GPU runs. A new ``__global__`` kernel or ``<<<`` launch elsewhere, or
an atomic, would escape the emulation: this test fails on it."""

from __future__ import annotations

import re
from pathlib import Path

CSRC = Path(__file__).resolve().parents[2] / "renderers" / "csrc"
LAUNCHER = CSRC / "common" / "launch_cuda.cuh"


def _code(path: Path) -> str:
    text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def test_only_the_launcher_defines_and_launches_kernels():
    sources = sorted(p for p in CSRC.rglob("*") if p.suffix in {".cu", ".cuh", ".h", ".cpp", ".inc"})
    assert LAUNCHER in sources
    offenders = [str(p.relative_to(CSRC)) for p in sources
                 if p != LAUNCHER and re.search(r"__global__|<<<", _code(p))]
    assert offenders == []
    atomics = [str(p.relative_to(CSRC)) for p in sources if re.search(r"atomic[A-Z]\w*\s*\(|__shared__|__shfl", _code(p))]
    assert atomics == []


def test_the_wrapper_is_the_bounds_check_and_the_call():
    body = re.search(r"__global__ void per_thread_kernel\(int64_t n, Kernel kernel\) \{(.*?)\n\}", _code(LAUNCHER), re.S)
    assert body is not None
    statements = [s.strip() for s in body.group(1).split(";") if s.strip()]
    assert statements == ["const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x", "if (i < n) kernel(i)"]
