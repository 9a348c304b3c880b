"""Builds the renderers' single compiled extension, ``renderers._C``.

Install with ``pip install --no-build-isolation -e .`` after torch is installed (an
isolated build would download a second copy of torch just to compile against it).

Environment switches
  RENDERERS_CUDA        auto (default): build the CUDA kernels when a CUDA toolkit and a
                        CUDA build of torch are found; 1: require them; 0: CPU only.
  CUDA_HOME             toolkit location (default: /usr/local/cuda, else the toolkit of the
                        ``nvcc`` on PATH).
  TORCH_CUDA_ARCH_LIST  GPU architectures (default: the visible GPU's, or a portable list
                        when none is visible).
  MAX_JOBS              parallel compile jobs (ninja).
"""

from __future__ import annotations

import glob
import os
import shutil

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join("renderers", "csrc")
PORTABLE_ARCHS = "7.5;8.0;8.6;8.9;9.0+PTX"


def _find_cuda_home() -> str | None:
    """CUDA_HOME / CUDA_PATH, else /usr/local/cuda, else the toolkit of ``nvcc`` on PATH
    (symlinks resolved: a /usr/local/bin/nvcc link must not make /usr/local the toolkit)."""
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]
    nvcc = shutil.which("nvcc")
    if nvcc:
        candidates.append(os.path.dirname(os.path.dirname(os.path.realpath(nvcc))))
    for home in candidates:
        if home and os.path.exists(os.path.join(home, "bin", "nvcc")) and os.path.isdir(os.path.join(home, "include")):
            return home
    return None


def _want_cuda() -> bool:
    flag = os.environ.get("RENDERERS_CUDA", "auto").strip().lower()
    if flag in ("0", "false", "off", "no"):
        return False
    import torch

    home = _find_cuda_home()
    usable = home is not None and torch.version.cuda is not None
    if flag in ("1", "true", "on", "yes") and not usable:
        raise SystemExit(
            "RENDERERS_CUDA=1 but CUDA cannot be built: "
            + ("no nvcc found (set CUDA_HOME)" if home is None else "this torch build has no CUDA support")
        )
    if usable:
        # torch.utils.cpp_extension reads CUDA_HOME when it is imported; without it the
        # default guess misses libcudart on some machines.
        os.environ["CUDA_HOME"] = home
        if not os.environ.get("TORCH_CUDA_ARCH_LIST") and not torch.cuda.is_available():
            os.environ["TORCH_CUDA_ARCH_LIST"] = PORTABLE_ARCHS
    return usable


WITH_CUDA = _want_cuda()

from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension  # noqa: E402


def _sources(pattern: str) -> list[str]:
    return sorted(glob.glob(os.path.join(CSRC, "**", pattern), recursive=True))


def _extension():
    # -ffp-contract=off keeps results independent of FMA availability.
    cxx_flags = ["-O3", "-std=c++20", "-fopenmp", "-ffp-contract=off", "-Wno-psabi"]
    sources = _sources("*.cpp")
    kwargs = dict(
        name="renderers._C",
        include_dirs=[os.path.join(HERE, CSRC)],
        extra_link_args=["-fopenmp"],
    )
    if WITH_CUDA:
        return CUDAExtension(
            sources=sources + _sources("*.cu"),
            define_macros=[("WITH_CUDA", None)],
            extra_compile_args={
                "cxx": cxx_flags,
                "nvcc": ["-O3", "-std=c++20", "--expt-relaxed-constexpr", "-fmad=false"],
            },
            **kwargs,
        )
    return CppExtension(sources=sources, extra_compile_args={"cxx": cxx_flags}, **kwargs)


setup(
    ext_modules=[_extension()],
    cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
)
