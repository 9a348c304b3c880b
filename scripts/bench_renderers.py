#!/usr/bin/env python
"""Renderer benchmark: compiled kernels against the dense PyTorch reference, same run.

For each workload it prints forward and forward+backward time per image, peak memory
(resident-set growth of a fresh worker process) and the number of (pixel, face) pairs each
implementation evaluates per image, with the speed-up of the compiled renderer over the
dense reference. Every measurement runs in its own subprocess so that peak memory is its own.

Workloads (ISSUE 2):
  a  training: 64 perturbed spheres (642 vertices / 1280 faces, radius ~0.3) at the dataset
     camera, 64x64, sigma 1e-4, dist_eps 1e-10, silhouette only
  b  the same meshes at 256x256 with colour (per-vertex colours, softmax aggregation)
  c  a 13k-face mesh at 256x256 with colour

The dense reference costs pixels x faces; where a whole image would take minutes it is
measured on a slice of the image's pixels and scaled to the full image (its cost is exactly
linear in the number of pixels). Such rows are marked "(scaled from N px)".

    python scripts/bench_renderers.py                 # all workloads
    python scripts/bench_renderers.py --workloads a --repeats 20
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

import torch

WORKLOADS = {
    "a": dict(title="64 spheres, 1280 faces, 64x64, silhouette", batch=64, ref_batch=2, size=64, faces="sphere",
              colour=False, ref_pixels=None),
    "b": dict(title="64 spheres, 1280 faces, 256x256, colour", batch=16, ref_batch=1, size=256, faces="sphere",
              colour=True, ref_pixels=8192),
    "c": dict(title="1 mesh, 13k faces, 256x256, colour", batch=4, ref_batch=1, size=256, faces="dense",
              colour=True, ref_pixels=1024),
}
SOFTRAS = dict(sigma=1e-4, dist_eps=1e-10, gamma=1e-4)
REFERENCE_REPEATS = 3  # the dense reference is slow: median of 3


def build_scene(workload: dict, batch: int, seed: int = 0):
    """World vertices (B, V, 3), faces (F, 3), eyes (B, 3), vertex colours (B, V, 3)."""
    import trimesh

    import renderers

    gen = torch.Generator().manual_seed(seed)
    if workload["faces"] == "sphere":
        mesh = trimesh.creation.icosphere(subdivisions=3)
    else:
        mesh = trimesh.creation.uv_sphere(count=[58, 58])
    base = torch.tensor(mesh.vertices, dtype=torch.float32)
    faces = torch.tensor(mesh.faces, dtype=torch.int64)
    noise = 1 + 0.1 * torch.randn(batch, base.shape[0], 1, generator=gen)
    vertices = 0.3 * base[None] * noise
    views = torch.randint(0, 24, (batch,), generator=gen).float()
    eye = renderers.points_from_angles(2.732, 30.0, -15.0 * views)
    colours = torch.rand(batch, base.shape[0], 3, generator=gen)
    return vertices, faces, eye, colours


def candidate_pairs(face_screen: torch.Tensor, size: int) -> float:
    """Mean number of (pixel, face) pairs per image inside the faces' grown bounding boxes."""
    threshold = SOFTRAS["sigma"] * math.log(1 / SOFTRAS["dist_eps"] - 1)
    grow = math.sqrt(threshold)
    x, y = face_screen[..., 0], face_screen[..., 1]
    width = ((x.amax(-1).clamp(-1, 1) - x.amin(-1).clamp(-1, 1) + 2 * grow) * size / 2).clamp(min=0)
    height = ((y.amax(-1).clamp(-1, 1) - y.amin(-1).clamp(-1, 1) + 2 * grow) * size / 2).clamp(min=0)
    return float((width * height).sum() / face_screen.shape[0])


def worker(key: str, impl: str, repeats: int) -> dict:
    import renderers
    from renderers.camera import project
    from renderers.lighting import gather_face_vertices
    from renderers.reference import soft_rasterize_reference

    workload = WORKLOADS[key]
    batch = workload["batch"] if impl == "ours" else workload["ref_batch"]
    vertices, faces, eye, colours = build_scene(workload, batch)
    size = workload["size"]
    renderer = renderers.create("softras", image_size=size, silhouette_only=not workload["colour"], **SOFTRAS)
    textures = colours if workload["colour"] else None
    face_screen = gather_face_vertices(project(vertices, eye, 15.0), faces[None].expand(batch, -1, -1))
    pixels = size * size
    scale = 1.0
    if impl == "ours":
        pairs = candidate_pairs(face_screen, size)

        def run(backward: bool):
            v = vertices.clone().requires_grad_(backward)
            t = None if textures is None else textures.clone().requires_grad_(backward)
            image = renderer(v, faces, eye, t)
            if backward:
                image.sum().backward()

    else:
        ref_pixels = workload["ref_pixels"] or pixels
        scale = pixels / ref_pixels
        pairs = float(pixels * faces.shape[0])
        options = renderer.options
        kwargs = {k: getattr(options, k) for k in ("sigma", "gamma", "dist_eps", "near", "far", "eps", "dist_func",
                                                  "aggr_alpha", "aggr_rgb", "double_sided", "background")}
        from renderers.reference.softras import _pixel_centres, _rasterize_pixels
        from renderers.base import check_mesh_inputs
        from renderers.lighting import directional_light, vertex_normals

        def run(backward: bool):
            v = vertices.clone().requires_grad_(backward)
            t = None if textures is None else textures.clone().requires_grad_(backward)
            _, fb, e = check_mesh_inputs(v, faces, eye)
            fs = gather_face_vertices(project(v, e, 15.0), fb)
            colours_lit = None
            if t is not None:
                lit = t * directional_light(vertex_normals(v, fb))
                colours_lit = gather_face_vertices(lit, fb)
            px, py = _pixel_centres(size, fs.dtype, fs.device)
            # The slice of pixels around the image centre, where the meshes are.
            start = max(0, (pixels - ref_pixels) // 2)
            rgba = _rasterize_pixels(fs, colours_lit, px[start : start + ref_pixels], py[start : start + ref_pixels],
                                     kind="vertex", **{**kwargs, "aggr_rgb": None if t is None else kwargs["aggr_rgb"]})
            if backward:
                rgba.sum().backward()

    baseline_rss = _rss_mb()
    run(False)  # warm-up
    timings = {}
    for backward in (False, True):
        samples = []
        for _ in range(repeats if impl == "ours" else REFERENCE_REPEATS):
            start = time.perf_counter()
            run(backward)
            samples.append(time.perf_counter() - start)
        samples.sort()
        timings["fwd+bwd" if backward else "fwd"] = samples[len(samples) // 2] * scale / batch * 1e3
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return dict(batch=batch, pairs=pairs, peak_mb=peak - baseline_rss, scaled_from=None if scale == 1 else ref_pixels,
                threads=torch.get_num_threads(), **timings)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="abc", help="subset of a, b, c")
    parser.add_argument("--repeats", type=int, default=10, help="timed repetitions of the compiled renderer")
    parser.add_argument("--worker", nargs=2, metavar=("WORKLOAD", "IMPL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.repeats)))
        return

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    header = f"{'workload':<44} {'impl':<10} {'batch':>5} {'fwd ms/img':>11} {'f+b ms/img':>11} {'peak MB':>8} {'pairs/img':>11} {'x fwd':>8} {'x f+b':>8}"
    print(header)
    print("-" * len(header))
    for key in args.workloads:
        results = {}
        for impl in ("ours", "reference"):
            out = subprocess.run([sys.executable, __file__, "--worker", key, impl, "--repeats", str(args.repeats)],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                raise SystemExit(f"worker {key}/{impl} failed")
            results[impl] = json.loads(out.stdout.strip().splitlines()[-1])
        ours, ref = results["ours"], results["reference"]
        for impl, r in (("softras", ours), ("dense ref", ref)):
            name = f"({key}) {WORKLOADS[key]['title']}" if impl == "softras" else ""
            ratio_f = ref["fwd"] / r["fwd"]
            ratio_fb = ref["fwd+bwd"] / r["fwd+bwd"]
            note = f"  (scaled from {r['scaled_from']} px)" if r["scaled_from"] else ""
            print(f"{name:<44} {impl:<10} {r['batch']:>5} {r['fwd']:>11.3f} {r['fwd+bwd']:>11.3f} {r['peak_mb']:>8.0f} "
                  f"{r['pairs']:>11.3g} {ratio_f:>7.0f}x {ratio_fb:>7.0f}x{note}")
    print(f"\nx = dense-reference time / softras time per image; medians of {args.repeats} (softras) and {REFERENCE_REPEATS} (reference) runs.")
    print("pairs/img: (pixel, face) pairs evaluated per image; softras visits only pixels inside each face's")
    print("bounding box grown by sqrt(sigma log(1/dist_eps - 1)), the dense reference all pixels x all faces.")


if __name__ == "__main__":
    main()
