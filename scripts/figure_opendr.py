#!/usr/bin/env python
"""Figures and measurements of the OpenDR renderer (README, OpenDR section).

1. ``docs/figures/opendr_maps.png``: a small scene (two vertex-coloured bumpy spheres, one in
   front of the other): OpenDR's image, the boundary mask M over the plain silhouette, the image
   gradient G_x, OpenDR's per-pixel derivative of the image under a translation of the scene in
   x, and the truth: central finite differences of a 16x supersampled (box-filtered) render.
2. ``docs/figures/opendr_gradient_reach.png``: Kato et al.'s observation. A loss that wants one
   pixel covered, ``-alpha(p)``, with p at a growing distance right of a square's edge: the size of
   the gradient with respect to the square's x-translation for OpenDR, NMR and SoftRas.
3. A table (printed): OpenDR's gradient of a translated-target loss against finite differences of
   a supersampled image, over random triangles and target shifts (what test_opendr_backward.py
   asserts).

    python scripts/figure_opendr.py            # writes docs/figures/, prints the table
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _luminance(image: torch.Tensor) -> torch.Tensor:
    return image[:, :3].mean(dim=1)


def scene(size: int):
    """Screen-space faces (1, F, 3, 3), vertex colours per corner (1, F, 3, 3), the edge table."""
    import renderers
    from renderers.gather import gather_faces, project_faces
    from renderers.scenes import bumpy_sphere

    parts, colours = [], []
    for offset, seed in (((0.12, 0.05, -0.4), 2), ((-0.25, -0.08, 0.4), 3)):
        v, f = bumpy_sphere(subdivisions=3, radius=0.3, seed=seed, bumps=0.12)
        parts.append((v + torch.tensor(offset, dtype=torch.float64), f))
        colours.append(0.5 + 0.5 * torch.tanh(3 * v))
    vertices = torch.cat((parts[0][0], parts[1][0]))[None]
    faces = torch.cat((parts[0][1], parts[1][1] + len(parts[0][0])))
    eye = renderers.points_from_angles(2.732, 25.0, 30.0)[None].double()
    screen = project_faces(vertices, eye, faces, 15.0)
    return screen, gather_faces(torch.cat(colours)[None], faces[None].expand(1, -1, -1)), renderers.edge_table(faces)


def figure_maps(out: Path, size: int = 48) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from renderers.nmr import hard_rasterize
    from renderers.opendr import opendr_maps, opendr_rasterize
    from renderers.reference import image_gradient_reference
    from renderers.scenes import box_filtered

    screen, colours, edges = scene(size)
    image = opendr_rasterize(screen, colours, size, "vertex", edges=edges)
    maps = opendr_maps(screen, size, edges=edges)
    gx, _ = image_gradient_reference(image, maps.mask)
    # OpenDR's derivative of pixel p under a translation of every vertex by dx (NDC): the sum over
    # the corners of -(S/2) G_x b_k, i.e. -(S/2) G_x where p belongs to a face.
    derivative = -(size / 2) * _luminance(gx) * (maps.face_index >= 0)
    step = 0.25 * 2 / size
    shift = torch.tensor([step, 0.0, 0.0], dtype=torch.float64)

    def supersampled(offset: torch.Tensor) -> torch.Tensor:
        return box_filtered(screen + offset, colours, size, "vertex")

    truth = (_luminance(supersampled(shift)) - _luminance(supersampled(-shift))) / (2 * step)
    plain = hard_rasterize(screen, None, size)[0, 3] > 0
    overlay = torch.zeros(size, size, 3)
    overlay[plain] = torch.tensor([0.75, 0.75, 0.75])
    overlay[maps.mask[0]] = torch.tensor([0.85, 0.1, 0.1])
    limit = float(max(derivative.abs().max(), truth.abs().max()))
    panels = [
        ("OpenDR image (overdrawn)", image[0, :3].permute(1, 2, 0).clamp(0, 1).numpy(), {}),
        ("boundary mask M (red)\nover the z-buffer silhouette", overlay.numpy(), {}),
        ("G_x of the luminance\n(pixel units)", _luminance(gx)[0].numpy(), dict(cmap="RdBu_r", vmin=-0.6, vmax=0.6)),
        ("OpenDR: d luminance / d x\n(translation of the scene)", derivative[0].numpy(),
         dict(cmap="RdBu_r", vmin=-limit, vmax=limit)),
        ("truth: finite differences of a\n16x supersampled render", truth[0].numpy(),
         dict(cmap="RdBu_r", vmin=-limit, vmax=limit)),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.1 * len(panels), 3.4))
    for ax, (title, data, kwargs) in zip(axes, panels):
        shown = ax.imshow(data, interpolation="nearest", **kwargs)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if kwargs:
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03)
    fig.suptitle(f"OpenDR on a {size}x{size} scene: where its gradient comes from", fontsize=10)
    fig.tight_layout()
    _save(fig, out)


def reach(size: int = 48, distances: range = range(1, 17)) -> dict[str, list[float]]:
    """|dL/dx| of the square's translation for L = -alpha(p), p at each distance (pixels) right of the edge."""
    from renderers.nmr import hard_rasterize
    from renderers.opendr import opendr_rasterize
    from renderers.softras import SoftRasOptions, soft_rasterize
    from renderers.topology import edge_table

    right = 0.25 + 0.3 / size  # the edge 0.15 px right of the middle between two pixel centres
    square = torch.tensor([[[-0.5, -0.5, 2.0], [right, -0.5, 2.0], [right, 0.5, 2.0]],
                           [[-0.5, -0.5, 2.0], [right, 0.5, 2.0], [-0.5, 0.5, 2.0]]], dtype=torch.float64)[None]
    edges = edge_table(torch.tensor([[0, 1, 2], [0, 2, 3]]))
    last_inside = int((right * size + size - 1) // 2)  # the last column whose centre is inside
    row = size // 2
    methods = {
        "OpenDR": lambda f: opendr_rasterize(f, None, size, edges=edges),
        "NMR (no anti-aliasing)": lambda f: hard_rasterize(f, None, size),
        "NMR (2x anti-aliasing)": lambda f: F.avg_pool2d(hard_rasterize(f, None, 2 * size), 2),
    }
    for sigma in (1e-4, 1e-3):
        options = SoftRasOptions(image_size=size, sigma=sigma, dist_eps=1e-10)
        methods[f"SoftRas sigma={sigma:g}"] = lambda f, o=options: soft_rasterize(f, None, o)
    out: dict[str, list[float]] = {}
    for name, render in methods.items():
        values = []
        for d in distances:
            faces = square.clone().requires_grad_(True)
            (-render(faces)[0, 3, row, last_inside + d]).backward()
            values.append(abs(float(faces.grad[..., 0].sum())))
        out[name] = values
    return out


def figure_reach(out: Path) -> dict[str, list[float]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    distances = range(1, 17)
    values = reach(distances=distances)
    floor = 1e-9
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for (name, series), marker in zip(values.items(), "osDv^"):
        ax.semilogy(list(distances), [max(v, floor) for v in series], marker=marker, label=name)
    ax.axhline(floor, color="gray", linestyle=":", linewidth=1)
    ax.text(16.2, floor * 1.5, "exactly 0", color="gray", fontsize=8, ha="right", va="bottom")
    ax.set_xlabel("distance of the wanted pixel from the edge (pixel centres)")
    ax.set_ylabel("|dL/dx| of the square's translation")
    ax.set_title("Gradient reach: L = -alpha(p), p right of a square's edge (48x48)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    _save(fig, out)
    return values


def truth_table(count: int = 12, size: int = 32) -> list[tuple[float, float, float, float]]:
    """(shift in pixels, min, median, max) of OpenDR / truth over random triangles and both axes."""
    from renderers.opendr import opendr_rasterize
    from renderers.scenes import box_filtered, random_triangles

    ratios: dict[float, list[float]] = {}
    for triangle in random_triangles(count, seed=0):

        def box(t: torch.Tensor) -> torch.Tensor:
            return box_filtered(t, None, size)[:, 3]

        for axis in (0, 1):
            for shift in (0.5, 1.0, 2.0, 3.0):
                offset = torch.zeros(3, dtype=torch.float64)
                offset[axis] = shift * 2 / size
                target = box(triangle + offset)
                o = torch.zeros(3, dtype=torch.float64, requires_grad=True)
                ((opendr_rasterize(triangle + o, None, size)[:, 3] - target) ** 2).sum().backward()
                h = torch.zeros(3, dtype=torch.float64)
                h[axis] = 0.25 * 2 / size
                truth = float((((box(triangle + h) - target) ** 2).sum() - ((box(triangle - h) - target) ** 2).sum())
                              / (2 * h[axis]))
                ratios.setdefault(shift, []).append(float(o.grad[axis]) / truth)
    rows = []
    for shift, values in ratios.items():
        v = torch.tensor(values)
        rows.append((shift, float(v.min()), float(v.median()), float(v.max())))
    return rows


def _save(fig, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, out)  # atomic
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    figure_maps(args.out / "opendr_maps.png")
    values = figure_reach(args.out / "opendr_gradient_reach.png")
    print("\n|dL/dx| against the distance of the wanted pixel (pixels):")
    print(f"{'method':<24}" + "".join(f"{d:>9d}" for d in (1, 2, 3, 4, 8, 16)))
    for name, series in values.items():
        print(f"{name:<24}" + "".join(f"{series[d - 1]:>9.2g}" for d in (1, 2, 3, 4, 8, 16)))
    print("\nOpenDR gradient / finite differences of a 16x supersampled loss, squared error against the")
    print("triangle shifted by s pixels (12 random triangles x 2 axes, 32x32, step 1/4 pixel):")
    print(f"{'shift s (px)':>12} {'min':>7} {'median':>7} {'max':>7}")
    for shift, low, median, high in truth_table():
        print(f"{shift:>12.1f} {low:>7.2f} {median:>7.2f} {high:>7.2f}")


if __name__ == "__main__":
    main()
