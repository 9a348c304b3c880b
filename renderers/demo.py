"""``renderers-demo``: renders a coloured test mesh from the 24 dataset views with SoftRas.

Writes a silhouette sheet and a colour sheet (PNG) and prints where they are. Useful as a
smoke test of an installation: it exercises the camera, lighting, textures and both
aggregation paths of the compiled extension.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

import torch

from . import create, points_from_angles


def demo_mesh(subdivisions: int = 3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A bumpy, asymmetric icosphere ``(1, V, 3)`` with faces ``(F, 3)`` and vertex colours ``(1, V, 3)``."""
    import trimesh  # noqa: PLC0415

    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=1.0)
    vertices = torch.tensor(mesh.vertices, dtype=torch.float32)
    x, y, z = vertices.unbind(-1)
    radius = 0.3 * (1 + 0.25 * torch.sin(3 * x) * torch.cos(2 * y) + 0.3 * torch.relu(z))
    colors = torch.stack((0.5 + 0.5 * x, 0.5 + 0.5 * y, 0.5 + 0.5 * z), dim=-1)
    return (vertices * radius[:, None])[None], torch.tensor(mesh.faces, dtype=torch.int64), colors[None]


def save_sheet(images: torch.Tensor, path: Path, columns: int = 8) -> None:
    """Saves ``(N, C, H, W)`` images in [0, 1] as one PNG grid, atomically."""
    import torchvision.utils  # noqa: PLC0415

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        torchvision.utils.save_image(images.clamp(0, 1), tmp, nrow=columns, padding=2, pad_value=1.0)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/demo"), help="output folder")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--sigma", type=float, default=1e-5)
    args = parser.parse_args(argv)

    vertices, faces, colors = demo_mesh()
    views = torch.arange(24, dtype=torch.float32)
    eye = points_from_angles(2.732, 30.0, -15.0 * views)
    batch = vertices.expand(24, -1, -1)
    soft = create("softras", image_size=args.image_size, sigma=args.sigma, gamma=1e-4)
    rgba = soft(batch, faces, eye, textures=colors.expand(24, -1, -1))
    save_sheet(rgba[:, 3:].expand(-1, 3, -1, -1), args.out / "silhouettes.png")
    save_sheet(rgba[:, :3], args.out / "colour.png")
    coverage = rgba[:, 3].mean().item()
    print(f"rendered 24 views at {args.image_size}x{args.image_size}, mean coverage {coverage:.3f}, "
          f"{math.prod(faces.shape) // 3} faces")
    print(f"wrote {args.out / 'silhouettes.png'} and {args.out / 'colour.png'}")


if __name__ == "__main__":
    main()
