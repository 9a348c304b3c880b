#!/usr/bin/env python
"""Renderer benchmark: compiled kernels against their plain PyTorch references, same run.

For each workload and renderer (SoftRas, NMR, OpenDR, edge sampling) it prints forward and forward+backward time per
image, peak memory (resident-set growth of a fresh worker process) and the number of (pixel,
face) pairs each implementation evaluates per image, with the speed-up of the compiled renderer
over its reference. Every measurement runs in its own subprocess so that peak memory is its own.
The backward pass uses a fixed random upstream gradient (the same for every implementation):
NMR's cost depends on its values (its loss-aware gate), SoftRas's does not.

Workloads (ISSUE 2):
  a  training: 64 perturbed spheres (642 vertices / 1280 faces, radius ~0.3) at the dataset
     camera, 64x64, sigma 1e-4, dist_eps 1e-10, silhouette only
  b  the same meshes at 256x256 with colour (per-vertex colours, softmax aggregation)
  c  a 13k-face mesh at 256x256 with colour

NMR renders with its default 2x supersampling (anti_aliasing=True), i.e. rasterizes at twice
the size; OpenDR with its defaults (no anti-aliasing, the boundary overdraw on).

The dense reference costs pixels x faces; where a whole image would take minutes it is
measured on a slice of the image's pixels and scaled to the full image (its cost is exactly
linear in the number of pixels). Such rows are marked "(scaled from N px)". The NMR reference
is its dense z-buffer (scaled from a pixel slice like SoftRas's) plus its Python loops of
Kato's gradient, timed on an evenly spread subset of the faces and scaled by the face count
("/ N faces"). The OpenDR reference is the same dense z-buffer (scaled from a pixel slice), then
its boundary overdraw (Python loops over the boundary edges' line pixels), colour sampling and
image-space backward on the whole image.

Shadows (after the table, or alone with ``--shadows``): edge sampling with ``shadows=True`` against
edge sampling without, on a shadow workload: workload (a)'s perturbed spheres (1280 faces) above
a ground quad (2 faces, ``y = -0.45``, ``x, z in [-0.8, 0.8]``, normal +y; the spheres reach
down to about -0.4), per-vertex colours (ground grey 0.7), ambient 0.4 + directional 0.6 light
from ``(0.5, 1, 0.3)`` (a leaf tensor: its gradient is computed), so that each sphere shadows the
ground and itself; the training-like meshes rather than the small test scene, so that the shadow
rays meet a realistic face count. ``s64``: 64x64, batch 16; ``s256``: 256x256, batch 4 (smaller
batches than (a) and (b): the per-image cost is what is compared). Rows: ``edge`` (no shadows,
the same scene and light: the baseline, measured in the same run), then shadows with
``shadow_samples`` K = 0 (shadow rays only, no secondary term), S*S (the default) and 4*S*S;
``x`` = shadowed time / unshadowed time per image (the cost of the shadows), medians of
``--repeats`` runs, each in its own worker process, 4 area samples per pixel and 4096 boundary
samples per image as above.

    python scripts/bench_renderers.py                 # all workloads, all renderers, then shadows
    python scripts/bench_renderers.py --workloads a --renderers nmr --repeats 20
    python scripts/bench_renderers.py --workloads a --renderers softras --lane-widths 16,8,4,1
    python scripts/bench_renderers.py --shadows --repeats 9   # the shadow rows only
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
              colour=False, ref_pixels=None, nmr_ref_pixels=4096, nmr_ref_faces=160, opendr_ref_pixels=4096),
    "b": dict(title="64 spheres, 1280 faces, 256x256, colour", batch=16, ref_batch=1, size=256, faces="sphere",
              colour=True, ref_pixels=8192, nmr_ref_pixels=4096, nmr_ref_faces=40, opendr_ref_pixels=4096),
    "c": dict(title="1 mesh, 13k faces, 256x256, colour", batch=4, ref_batch=1, size=256, faces="dense",
              colour=True, ref_pixels=1024, nmr_ref_pixels=512, nmr_ref_faces=200, opendr_ref_pixels=512),
}
IMPLS = {"softras": ("softras", "dense ref"), "nmr": ("nmr", "nmr ref"), "opendr": ("opendr", "opendr ref"),
         "edge": ("edge", "edge ref")}
EDGE = dict(samples_per_pixel=4, edge_samples=4096)  # configs/renderer/edge.yaml
EDGE_REFERENCE_WORKLOADS = "a"  # its brute-force reference holds (samples x faces) tensors: too big for b, c
SOFTRAS = dict(sigma=1e-4, dist_eps=1e-10, gamma=1e-4)
REFERENCE_REPEATS = 3  # the dense reference is slow: median of 3
SHADOW_WORKLOADS = {
    "s64": dict(title="16 spheres + ground, 64x64, lit", batch=16, size=64),
    "s256": dict(title="4 spheres + ground, 256x256, lit", batch=4, size=256),
}
#: shadow-row label -> shadow_samples as a multiple of S*S (None: no shadows, the baseline)
SHADOW_IMPLS = {"edge": None, "edge shadows K=0": 0, "edge shadows K=S*S": 1, "edge shadows K=4*S*S": 4}
SHADOW_GROUND = ((-0.8, -0.45, -0.8), (-0.8, -0.45, 0.8), (0.8, -0.45, 0.8), (0.8, -0.45, -0.8))
SHADOW_LIGHT = dict(ambient_intensity=0.4, directional_intensity=0.6, direction=(0.5, 1.0, 0.3))


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


def nmr_pairs(face_screen: torch.Tensor, size: int) -> float:
    """Mean number of (pixel, face) pairs per image inside the faces' bounding boxes at ``size``."""
    x, y = face_screen[..., 0], face_screen[..., 1]
    width = ((x.amax(-1).clamp(-1, 1) - x.amin(-1).clamp(-1, 1)) * size / 2).clamp(min=0)
    height = ((y.amax(-1).clamp(-1, 1) - y.amin(-1).clamp(-1, 1)) * size / 2).clamp(min=0)
    return float((width * height).sum() / face_screen.shape[0])


def centre_slice(size: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel centres ``px, py (count,)`` of the ``count`` pixels around the middle of an S x S image
    (row-major), where the meshes are: the slice the dense references are timed on."""
    from renderers.reference.nmr import pixel_centres

    px, py = pixel_centres(size, torch.float32, torch.device("cpu"))
    start = max(0, (size * size - count) // 2)
    return px[start : start + count], py[start : start + count]


def _median(samples: list[float]) -> float:
    samples = sorted(samples)
    return samples[len(samples) // 2]


def nmr_reference_worker(key: str) -> dict:
    """The NMR reference: dense z-buffer on a pixel slice, Kato loops on a face subset, both scaled."""
    import renderers
    from renderers.camera import project
    from renderers.lighting import gather_face_vertices
    from renderers.nmr import hard_rasterize, rasterize_maps
    from renderers.reference.nmr import kato_gradient_reference, zbuffer_pixels

    workload = WORKLOADS[key]
    vertices, faces, eye, _ = build_scene(workload, 1)
    size = 2 * workload["size"]  # supersampled
    face_screen = gather_face_vertices(project(vertices, eye, 15.0), faces[None])
    pixels, num_faces = size * size, faces.shape[0]
    ref_pixels, ref_faces = min(workload["nmr_ref_pixels"], pixels), workload["nmr_ref_faces"]
    px, py = centre_slice(size, ref_pixels)
    image = hard_rasterize(face_screen, None, size)
    index = rasterize_maps(face_screen, size).face_index.int()
    upstream = torch.randn(image.shape, generator=torch.Generator().manual_seed(1))
    subset = list(range(0, num_faces, max(1, num_faces // ref_faces)))[:ref_faces]
    baseline_rss = _rss_mb()
    forward, backward = [], []
    for _ in range(REFERENCE_REPEATS):
        t0 = time.perf_counter()
        zbuffer_pixels(face_screen, px, py)
        t1 = time.perf_counter()
        kato_gradient_reference(face_screen, image, index, upstream, only_faces=subset)
        t2 = time.perf_counter()
        forward.append((t1 - t0) * pixels / ref_pixels)
        backward.append((t2 - t1) * num_faces / len(subset))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    fwd = _median(forward) * 1e3
    return dict(batch=1, pairs=float(pixels * num_faces), peak_mb=peak - baseline_rss, threads=torch.get_num_threads(),
                scaled_from=f"{ref_pixels} px / {len(subset)} faces", fwd=fwd,
                **{"fwd+bwd": fwd + _median(backward) * 1e3})


def opendr_reference_worker(key: str) -> dict:
    """The OpenDR reference: dense z-buffer on a pixel slice (scaled), then the boundary overdraw,
    colour sampling and image-space backward on the whole image."""
    from renderers.camera import project
    from renderers.lighting import directional_light, gather_face_vertices, vertex_normals
    from renderers.nmr import rasterize_maps
    from renderers.reference.nmr import _sample, zbuffer_pixels
    from renderers.reference.opendr import opendr_vertex_gradient_reference, overdraw_reference
    from renderers.topology import edge_table

    workload = WORKLOADS[key]
    vertices, faces, eye, colours = build_scene(workload, 1)
    size = workload["size"]
    face_screen = gather_face_vertices(project(vertices, eye, 15.0), faces[None])
    edges = edge_table(faces)
    pixels = size * size
    ref_pixels = min(workload["opendr_ref_pixels"], pixels)
    px, py = centre_slice(size, ref_pixels)
    zmaps = rasterize_maps(face_screen, size)  # the overdraw's input (its time is the scaled slice's)
    lit = None
    if workload["colour"]:
        lit = gather_face_vertices(colours * directional_light(vertex_normals(vertices, faces[None])), faces[None])
    upstream = torch.randn(1, 4, size, size, generator=torch.Generator().manual_seed(1))
    baseline_rss = _rss_mb()
    forward, backward = [], []
    for _ in range(REFERENCE_REPEATS):
        t0 = time.perf_counter()
        zbuffer_pixels(face_screen, px, py)
        t1 = time.perf_counter()
        index, weights, _, mask = overdraw_reference(face_screen, zmaps.face_index, zmaps.weights, zmaps.depth, edges)
        covered = index >= 0
        rgb = torch.zeros(1, size, size, 3)
        if lit is not None:
            b, r, c = covered.nonzero(as_tuple=True)
            rgb[b, r, c] = _sample(lit[b, index[b, r, c]], weights[b, r, c], "vertex")
        image = torch.cat((rgb.permute(0, 3, 1, 2), covered[:, None].float()), dim=1)
        t2 = time.perf_counter()
        opendr_vertex_gradient_reference(image, index, weights, mask, upstream, faces.shape[0])
        t3 = time.perf_counter()
        forward.append((t1 - t0) * pixels / ref_pixels + (t2 - t1))
        backward.append(t3 - t2)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    fwd = _median(forward) * 1e3
    return dict(batch=1, pairs=float(pixels * faces.shape[0]), peak_mb=peak - baseline_rss,
                threads=torch.get_num_threads(), scaled_from=f"{ref_pixels} px z-buffer", fwd=fwd,
                **{"fwd+bwd": fwd + _median(backward) * 1e3})


def edge_pairs(face_screen: torch.Tensor, size: int) -> float:
    """(area sample, face) pairs the edge sampler's forward tests per image: each pixel's samples
    against the faces binned in its 2x2-pixel tile (a face counts in every tile its box touches)."""
    tile = 2
    x, y = face_screen[..., 0], face_screen[..., 1]
    c0 = ((x.amin(-1) + 1) * size / (2 * tile)).floor().clamp(0, (size - 1) // tile)
    c1 = ((x.amax(-1) + 1) * size / (2 * tile)).floor().clamp(0, (size - 1) // tile)
    r0 = ((1 - y.amax(-1)) * size / (2 * tile)).floor().clamp(0, (size - 1) // tile)
    r1 = ((1 - y.amin(-1)) * size / (2 * tile)).floor().clamp(0, (size - 1) // tile)
    tiles = ((c1 - c0 + 1) * (r1 - r0 + 1)).sum(-1).mean()
    return float(tiles) * tile * tile * EDGE["samples_per_pixel"]


def edge_reference_worker(key: str) -> dict:
    """The plain-PyTorch edge estimator (renderers.reference.edge) on one image of workload ``key``."""
    from renderers.camera import project
    from renderers.lighting import gather_face_vertices
    from renderers.reference.edge import edge_rasterize_reference
    from renderers.topology import edge_table

    workload = WORKLOADS[key]
    if key not in EDGE_REFERENCE_WORKLOADS:
        return dict(batch=0, pairs=math.nan, peak_mb=math.nan, scaled_from=None, threads=torch.get_num_threads(),
                    fwd=math.nan, **{"fwd+bwd": math.nan})
    vertices, faces, eye, _ = build_scene(workload, 1)
    size = workload["size"]
    edges = edge_table(faces)
    upstream = torch.randn(1, 4, size, size, generator=torch.Generator().manual_seed(1))

    def run(backward: bool):
        face_screen = gather_face_vertices(project(vertices, eye, 15.0), faces[None]).requires_grad_(backward)
        image = edge_rasterize_reference(face_screen, None, size, edges=edges, seed=1, **EDGE)
        if backward:
            (image * upstream).sum().backward()

    baseline_rss = _rss_mb()
    timings = {}
    for backward in (False, True):
        samples = []
        for _ in range(REFERENCE_REPEATS):
            start = time.perf_counter()
            run(backward)
            samples.append(time.perf_counter() - start)
        timings["fwd+bwd" if backward else "fwd"] = sorted(samples)[len(samples) // 2] * 1e3
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return dict(batch=1, pairs=float(size * size * EDGE["samples_per_pixel"] * faces.shape[0]), peak_mb=peak - baseline_rss,
                scaled_from=None, threads=torch.get_num_threads(), **timings)


def build_shadow_scene(batch: int, seed: int = 0):
    """Workload (a)'s meshes above a ground quad: vertices (B, V + 4, 3), faces (F + 2, 3), eyes
    (B, 3), vertex colours (B, V + 4, 3) (the ground grey)."""
    vertices, faces, eye, colours = build_scene(WORKLOADS["a"], batch, seed)
    count = vertices.shape[1]
    ground = torch.tensor(SHADOW_GROUND, dtype=vertices.dtype)
    vertices = torch.cat((vertices, ground.expand(batch, -1, -1)), dim=1)
    faces = torch.cat((faces, torch.tensor([[0, 1, 2], [0, 2, 3]]) + count))  # wound toward +y (the light)
    colours = torch.cat((colours, torch.full((batch, 4, 3), 0.7, dtype=colours.dtype)), dim=1)
    return vertices, faces, eye, colours


def shadow_worker(key: str, impl: str, repeats: int) -> dict:
    """Edge sampling with or without shadows on shadow workload ``key``: per-image medians."""
    import renderers

    workload = SHADOW_WORKLOADS[key]
    batch, size = workload["batch"], workload["size"]
    vertices, faces, eye, colours = build_shadow_scene(batch)
    multiple = SHADOW_IMPLS[impl]
    options = dict(EDGE) if multiple is None else dict(EDGE, shadows=True, shadow_samples=multiple * size * size)
    renderer = renderers.create("edge", image_size=size, **options)
    upstream = torch.randn(batch, 4, size, size, generator=torch.Generator().manual_seed(1))

    def run(backward: bool):
        v = vertices.clone().requires_grad_(backward)
        t = colours.clone().requires_grad_(backward)
        direction = torch.tensor(SHADOW_LIGHT["direction"], requires_grad=backward)
        lights = renderers.Lighting(ambient_intensity=SHADOW_LIGHT["ambient_intensity"],
                                    directional_intensity=SHADOW_LIGHT["directional_intensity"], direction=direction)
        image = renderer(v, faces, eye, t, lights=lights)
        if backward:
            (image * upstream).sum().backward()

    baseline_rss = _rss_mb()
    run(False)  # warm-up
    run(True)
    timings = {}
    for backward in (False, True):
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            run(backward)
            samples.append(time.perf_counter() - start)
        timings["fwd+bwd" if backward else "fwd"] = _median(samples) / batch * 1e3
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return dict(batch=batch, peak_mb=peak - baseline_rss, threads=torch.get_num_threads(), faces=int(faces.shape[0]),
                **timings)


def shadow_table(args) -> None:
    """The shadow rows: each shadowed configuration against the unshadowed edge renderer."""
    keys = [k.strip() for k in args.shadow_workloads.split(",") if k.strip()]
    unknown = sorted(set(keys) - set(SHADOW_WORKLOADS))
    if unknown:
        raise SystemExit(f"unknown shadow workload(s) {unknown}; choose from {sorted(SHADOW_WORKLOADS)}")
    print("\nEdge sampling with shadows, ratios against edge sampling without shadows (same scene and light, same run):")
    header = (f"{'workload':<44} {'impl':<22} {'batch':>5} {'fwd ms/img':>11} {'f+b ms/img':>11} {'peak MB':>8} "
              f"{'x fwd':>7} {'x f+b':>7}")
    print(header)
    print("-" * len(header))
    for key in keys:
        base = None
        for i, impl in enumerate(SHADOW_IMPLS):
            r = _run_worker(key, impl, args.repeats)
            base = base or r
            label = f"({key}) {SHADOW_WORKLOADS[key]['title']}" if i == 0 else ""
            print(f"{label:<44} {impl:<22} {r['batch']:>5} {r['fwd']:>11.3f} {r['fwd+bwd']:>11.3f} {r['peak_mb']:>8.0f} "
                  f"{r['fwd'] / base['fwd']:>6.2f}x {r['fwd+bwd'] / base['fwd+bwd']:>6.2f}x")
    print(f"x = time with shadows / time without (per image); medians of {args.repeats} runs; {EDGE['samples_per_pixel']} "
          f"area samples per pixel, {EDGE['edge_samples']} boundary samples per image; K = shadow_samples per image.")


def worker(key: str, impl: str, repeats: int) -> dict:
    import renderers
    from renderers.camera import project
    from renderers.lighting import gather_face_vertices
    from renderers.reference import soft_rasterize_reference

    if key in SHADOW_WORKLOADS:
        return shadow_worker(key, impl, repeats)
    if impl == "nmr ref":
        return nmr_reference_worker(key)
    if impl == "opendr ref":
        return opendr_reference_worker(key)
    if impl == "edge ref":
        return edge_reference_worker(key)
    workload = WORKLOADS[key]
    compiled = impl in ("softras", "nmr", "opendr", "edge")
    batch = workload["batch"] if compiled else workload["ref_batch"]
    vertices, faces, eye, colours = build_scene(workload, batch)
    size = workload["size"]
    if impl in ("nmr", "opendr"):
        renderer = renderers.create(impl, image_size=size, silhouette_only=not workload["colour"])
    elif impl == "edge":
        renderer = renderers.create("edge", image_size=size, silhouette_only=not workload["colour"], **EDGE)
    else:
        renderer = renderers.create("softras", image_size=size, silhouette_only=not workload["colour"], **SOFTRAS)
    textures = colours if workload["colour"] else None
    face_screen = gather_face_vertices(project(vertices, eye, 15.0), faces[None].expand(batch, -1, -1))
    pixels = size * size
    scale = 1.0
    upstream = torch.randn(batch, 4, size, size, generator=torch.Generator().manual_seed(1))
    if compiled:
        if impl == "softras":
            pairs = candidate_pairs(face_screen, size)
        elif impl == "edge":
            pairs = edge_pairs(face_screen, size)
        else:
            pairs = nmr_pairs(face_screen, 2 * size if impl == "nmr" else size)

        def run(backward: bool):
            v = vertices.clone().requires_grad_(backward)
            t = None if textures is None else textures.clone().requires_grad_(backward)
            image = renderer(v, faces, eye, t)
            if backward:
                (image * upstream).sum().backward()

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
                # the same upstream values as the compiled renderer's, on the slice
                slice_upstream = upstream.permute(0, 2, 3, 1).reshape(batch, pixels, 4)[:, start : start + ref_pixels]
                (rgba * slice_upstream).sum().backward()

    baseline_rss = _rss_mb()
    run(False)  # warm-up
    timings = {}
    for backward in (False, True):
        samples = []
        for _ in range(repeats if compiled else REFERENCE_REPEATS):
            start = time.perf_counter()
            run(backward)
            samples.append(time.perf_counter() - start)
        samples.sort()
        timings["fwd+bwd" if backward else "fwd"] = samples[len(samples) // 2] * scale / batch * 1e3
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return dict(batch=batch, pairs=pairs, peak_mb=peak - baseline_rss,
                scaled_from=None if scale == 1 else f"{ref_pixels} px", threads=torch.get_num_threads(), **timings)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _run_worker(key: str, impl: str, repeats: int, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", key, impl, "--repeats", str(repeats)],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        raise SystemExit(f"worker {key}/{impl} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def lane_width_table(args) -> None:
    """SoftRas per CPU vector width (RENDERERS_SIMD of each worker), each against the first."""
    widths = [int(w) for w in args.lane_widths.split(",") if w.strip()]
    print(f"\nSoftRas by CPU vector width (RENDERERS_SIMD), ratios against width {widths[0]}:")
    print(f"{'workload':<8} {'width':>5} {'fwd ms/img':>11} {'f+b ms/img':>11} {'x fwd':>8} {'x f+b':>8}")
    for key in args.workloads:
        first = None
        for width in widths:
            r = _run_worker(key, "softras", args.repeats, env={**os.environ, "RENDERERS_SIMD": str(width)})
            first = first or r
            print(f"({key}){'':<5} {width:>5} {r['fwd']:>11.3f} {r['fwd+bwd']:>11.3f} {first['fwd'] / r['fwd']:>7.2f}x "
                  f"{first['fwd+bwd'] / r['fwd+bwd']:>7.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="abc", help="subset of a, b, c")
    parser.add_argument("--renderers", default="softras,nmr,opendr,edge",
                        help="comma-separated subset of softras, nmr, opendr, edge")
    parser.add_argument("--repeats", type=int, default=20, help="timed repetitions of the compiled renderer")
    parser.add_argument("--lane-widths", default="",
                        help="comma-separated SoftRas CPU vector widths (renderers.simd: 1, 4, 8, 16) to time in the "
                             "same run, after the table, each against the first")
    parser.add_argument("--shadows", action="store_true",
                        help="time only edge sampling with shadows against without (the shadow rows)")
    parser.add_argument("--shadow-workloads", default=",".join(SHADOW_WORKLOADS),
                        help=f"comma-separated subset of {', '.join(SHADOW_WORKLOADS)} for the shadow rows")
    parser.add_argument("--worker", nargs=2, metavar=("WORKLOAD", "IMPL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.repeats)))
        return

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    if args.shadows:
        shadow_table(args)
        return
    header = f"{'workload':<44} {'impl':<10} {'batch':>5} {'fwd ms/img':>11} {'f+b ms/img':>11} {'peak MB':>8} {'pairs/img':>11} {'x fwd':>8} {'x f+b':>8}"
    print(header)
    print("-" * len(header))
    names = [name.strip() for name in args.renderers.split(",") if name.strip()]
    unknown = sorted(set(names) - set(IMPLS))
    if unknown:
        raise SystemExit(f"unknown renderer(s) {unknown}; choose from {sorted(IMPLS)}")
    for key in args.workloads:
        first = True
        for name in names:
            results = {}
            for impl in IMPLS[name]:
                results[impl] = _run_worker(key, impl, args.repeats)
            ours, ref = (results[impl] for impl in IMPLS[name])
            for impl, r in zip(IMPLS[name], (ours, ref)):
                label = f"({key}) {WORKLOADS[key]['title']}" if first else ""
                first = False
                if r["batch"] == 0:  # a reference not run for this workload
                    print(f"{label:<44} {impl:<10} {'(not run: too large for the dense reference)':>50}")
                    continue
                ratio_f = ref["fwd"] / r["fwd"]
                ratio_fb = ref["fwd+bwd"] / r["fwd+bwd"]
                note = f"  (scaled from {r['scaled_from']})" if r["scaled_from"] else ""
                ratios = f"{ratio_f:>7.0f}x {ratio_fb:>7.0f}x" if ref["batch"] else f"{'-':>8} {'-':>8}"
                print(f"{label:<44} {impl:<10} {r['batch']:>5} {r['fwd']:>11.3f} {r['fwd+bwd']:>11.3f} {r['peak_mb']:>8.0f} "
                      f"{r['pairs']:>11.3g} {ratios}{note}")
    if args.lane_widths:
        lane_width_table(args)
    print(f"\nx = reference time / compiled time per image (each renderer against its own reference); medians of "
          f"{args.repeats} (compiled) and {REFERENCE_REPEATS} (reference) runs.")
    print("pairs/img: (pixel, face) pairs evaluated per image; softras visits only pixels inside each face's")
    print("bounding box grown by sqrt(sigma log(1/dist_eps - 1)), nmr and opendr those inside each face's bounding box")
    print("(nmr at the supersampled size), edge its area samples x the faces binned in their tile, the dense references")
    print("all pixels (edge: all area samples) x all faces. edge: 2x2 area samples, 4096 boundary samples per image;")
    print("its reference runs on workload (a) only.")
    if "edge" in names and args.workloads == parser.get_default("workloads"):
        shadow_table(args)  # the full run ends with the shadow rows; a filtered run asked for other rows


if __name__ == "__main__":
    main()
