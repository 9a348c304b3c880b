"""Runs the synthetic generator or the ShapeNetCore converter in a child process that is
killed with SIGKILL at a chosen point (for the kill-and-resume tests), plus the helpers
those tests share: a deterministic stand-in renderer and a fake ShapeNetCore tree.

Child usage: ``python killrun.py synth|convert JSON_KWARGS`` with the kill point chosen by
environment variables (each optional):

* ``KILL_RENDER=N``: SIGKILL at the start of the N-th render call (mid-split);
* ``KILL_PUBLISH=K``: SIGKILL right after the K-th npz file is published;
* ``KILL_CALL=module:function[:N]``: SIGKILL at the N-th call (default 1st) of that
  module-level function;
* ``SLOW=seconds``: sleep in each render call (for kills from outside).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent

CUBE_V = [(0, 0, 0), (2, 0, 0), (2, 1, 0), (0, 1, 0), (0, 0, 1), (2, 0, 1), (2, 1, 1), (0, 1, 1)]
CUBE_F = [(1, 3, 2), (1, 4, 3), (5, 6, 7), (5, 7, 8), (1, 2, 6), (1, 6, 5),
          (4, 8, 7), (4, 7, 3), (1, 5, 8), (1, 8, 4), (2, 3, 7), (2, 7, 6)]


def write_obj(path: Path, scale: float) -> None:
    """A box ``2 x 1 x 1.5`` times ``scale`` as a one-material ``.obj``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"v {x * scale} {y * scale} {z * scale * 1.5}" for x, y, z in CUBE_V]
    lines += ["f " + " ".join(map(str, f)) for f in CUBE_F]
    path.write_text("\n".join(lines) + "\n")


def write_fake_shapenet(root: Path) -> tuple[Path, Path]:
    """ShapeNetCore with 4 models in 3 category/splits; returns ``(tree, split lists)``."""
    tree = root / "ShapeNetCore"
    write_obj(tree / "02958343" / "carA" / "model.obj", 1.0)
    write_obj(tree / "02958343" / "carB" / "models" / "model_normalized.obj", 2.0)
    write_obj(tree / "02958343" / "carC" / "model.obj", 0.5)
    write_obj(tree / "03001627" / "chairA" / "model.obj", 0.8)
    splits = root / "splits"
    splits.mkdir(parents=True, exist_ok=True)
    (splits / "02958343_train.lst").write_text("carA\ncarB\n")
    (splits / "02958343_test.lst").write_text("carC\n")
    (splits / "val.lst").write_text("03001627/chairA\n")
    return tree, splits


def fake_render(vertices: torch.Tensor, faces: torch.Tensor, eyes: torch.Tensor,
                face_colors: torch.Tensor) -> torch.Tensor:
    """Deterministic stand-in renderer: ``(B, 4, 64, 64)``, a square whose size follows the
    mesh's extent and whose colour is the mean face colour, shaded per view by the eye."""
    b = vertices.shape[0]
    out = torch.zeros(b, 4, 64, 64)
    extent = 8 + int(40 * float(vertices[0].abs().max()))
    shade = (0.5 + 0.5 * torch.sigmoid(eyes[:, 0])).view(b, 1, 1, 1)
    out[:, :3, :extent, :extent] = face_colors.mean(dim=(1, 2)).view(b, 3, 1, 1) * shade
    out[:, 3, :extent, :extent] = 1
    return out


class CountingRender:
    """:func:`fake_render`, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return fake_render(*args)


def run_child(tool: str, kwargs: dict, env: dict[str, str], wait: bool = True) -> subprocess.Popen:
    """Starts ``killrun.py tool kwargs`` with the kill point in ``env``; waits for it unless
    ``wait`` is false. Returns the process (``returncode`` is ``-9`` when it was killed)."""
    proc = subprocess.Popen([sys.executable, str(HERE / "killrun.py"), tool, json.dumps(kwargs)],
                            env={**os.environ, "WANDB_MODE": "disabled", **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait:
        proc.communicate(timeout=300)
    return proc


def kill_when(proc: subprocess.Popen, ready, timeout: float = 120.0) -> bool:
    """Polls ``ready()`` every 10 ms and SIGKILLs ``proc`` as soon as it is true; returns
    whether ``proc`` was still running at that moment."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return running


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _install_kill_points(module) -> None:
    """Arms the kill points chosen by the environment (see the module docstring)."""
    import recon.data.npz_writer as npz_writer  # noqa: PLC0415

    renders = {"n": 0}
    kill_render, slow = int(os.environ.get("KILL_RENDER", 0)), float(os.environ.get("SLOW", 0))

    def render(*args):
        renders["n"] += 1
        if renders["n"] == kill_render:
            _die()
        time.sleep(slow)
        return fake_render(*args)

    module.KILLRUN_RENDER = render
    publishes = {"n": 0}
    kill_publish = int(os.environ.get("KILL_PUBLISH", 0))
    close = npz_writer.NpzStreamWriter.close

    def close_then_maybe_die(self):
        close(self)
        publishes["n"] += 1
        if publishes["n"] == kill_publish:
            _die()

    npz_writer.NpzStreamWriter.close = close_then_maybe_die
    if os.environ.get("KILL_CALL"):
        mod_name, func, *nth = os.environ["KILL_CALL"].split(":")
        target = __import__(mod_name, fromlist=[func])
        original, calls, kill_at = getattr(target, func), {"n": 0}, int(nth[0]) if nth else 1

        def call_or_die(*args, **kw):
            calls["n"] += 1
            if calls["n"] == kill_at:
                _die()
            return original(*args, **kw)

        setattr(target, func, call_or_die)


def main(argv: list[str]) -> int:
    tool, kwargs = argv[0], json.loads(argv[1])
    if tool == "synth":
        import recon.data.synthetic as module  # noqa: PLC0415

        _install_kill_points(module)
        module.generate(render_fn=module.KILLRUN_RENDER, progress=False, **kwargs)
    elif tool == "convert":
        import recon.data.convert as module  # noqa: PLC0415

        _install_kill_points(module)
        module.convert(workers=0, render_fn=module.KILLRUN_RENDER, progress=False, **kwargs)
    else:
        raise SystemExit(f"unknown tool {tool!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
