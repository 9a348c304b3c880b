"""Procedural "ShapeNet-like" objects built from randomly proportioned parts.

Every builder takes a ``numpy.random.Generator`` and returns a :class:`ColoredMesh`
(+Y up, front towards -Z, one colour per part) which the caller normalises. Parts are
closed surfaces (boxes, capped cylinders/cones, ellipsoids, outward winding) that may
interpenetrate; the evaluation voxelizer fills their union.
"""
from __future__ import annotations

import colorsys
from typing import Callable

import numpy as np

from recon.data.mesh import ColoredMesh

Builder = Callable[[np.random.Generator], ColoredMesh]

# -- primitives -------------------------------------------------------------------------

_BOX_FACES = np.array([
    [0, 2, 1], [0, 3, 2],  # -z
    [4, 5, 6], [4, 6, 7],  # +z
    [0, 1, 5], [0, 5, 4],  # -y
    [3, 7, 6], [3, 6, 2],  # +y
    [0, 4, 7], [0, 7, 3],  # -x
    [1, 2, 6], [1, 6, 5],  # +x
])


def _rotation(axis: str) -> np.ndarray:
    """Rotation taking local +Y to ``axis`` ('x', 'y' or 'z')."""
    if axis == "y":
        return np.eye(3)
    if axis == "x":
        return np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1]], dtype=float)
    return np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float)


def box(center, size, color) -> ColoredMesh:
    """Axis-aligned box, ``size`` = full side lengths."""
    c, s = np.asarray(center, float), np.asarray(size, float) / 2
    corners = np.array([[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1],
                        [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], dtype=float)
    return ColoredMesh(c + corners * s, _BOX_FACES, np.tile(color, (12, 1)))


def frustum(center, r_bottom, r_top, height, color, axis: str = "y", segments: int = 12) -> ColoredMesh:
    """Capped cylinder / cone frustum centred at ``center`` along ``axis``."""
    t = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ring = np.stack([np.cos(t), np.zeros_like(t), np.sin(t)], 1)
    bottom = ring * [r_bottom, 1, r_bottom] + [0, -height / 2, 0]
    top = ring * [r_top, 1, r_top] + [0, height / 2, 0]
    verts = np.concatenate([bottom, top, [[0, -height / 2, 0], [0, height / 2, 0]]])
    n = segments
    i = np.arange(n)
    j = (i + 1) % n
    side = np.concatenate([np.stack([i, n + i, n + j], 1), np.stack([i, n + j, j], 1)])
    cap_b = np.stack([np.full(n, 2 * n), i, j], 1)
    cap_t = np.stack([np.full(n, 2 * n + 1), n + j, n + i], 1)
    faces = np.concatenate([side, cap_b, cap_t])
    verts = verts @ _rotation(axis).T + np.asarray(center, float)
    return ColoredMesh(verts, faces, np.tile(color, (len(faces), 1)))


def ellipsoid(center, radii, color, rings: int = 8, segments: int = 12) -> ColoredMesh:
    """UV ellipsoid with semi-axes ``radii``."""
    phi = np.linspace(0, np.pi, rings + 1)[1:-1]
    t = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    p, tt = np.meshgrid(phi, t, indexing="ij")
    body = np.stack([np.sin(p) * np.cos(tt), np.cos(p), np.sin(p) * np.sin(tt)], -1).reshape(-1, 3)
    verts = np.concatenate([[[0, 1, 0]], body, [[0, -1, 0]]]) * radii + np.asarray(center, float)
    faces = []
    n = segments
    for k in range(n):
        faces.append([0, 1 + (k + 1) % n, 1 + k])
    for r in range(rings - 2):
        a, b = 1 + r * n, 1 + (r + 1) * n
        for k in range(n):
            k2 = (k + 1) % n
            faces += [[a + k, a + k2, b + k], [a + k2, b + k2, b + k]]
    last = len(verts) - 1
    a = 1 + (rings - 2) * n
    for k in range(n):
        faces.append([last, a + k, a + (k + 1) % n])
    return ColoredMesh(verts, np.array(faces), np.tile(color, (len(faces), 1)))


def _color(rng: np.random.Generator, hue: float | None = None) -> np.ndarray:
    h = rng.random() if hue is None else (hue + rng.normal(0, 0.03)) % 1.0
    return np.array(colorsys.hsv_to_rgb(h, rng.uniform(0.35, 0.9), rng.uniform(0.45, 0.95)))


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


# -- categories -------------------------------------------------------------------------

def chair(rng: np.random.Generator) -> ColoredMesh:
    w, d = _u(rng, 0.4, 0.6), _u(rng, 0.4, 0.6)
    seat_h, seat_t = _u(rng, 0.35, 0.5), _u(rng, 0.04, 0.08)
    back_h, leg = _u(rng, 0.35, 0.6), _u(rng, 0.03, 0.06)
    c_seat, c_leg, c_back = _color(rng), _color(rng), _color(rng)
    parts = [box([0, seat_h, 0], [w, seat_t, d], c_seat)]
    for sx in (-1, 1):
        for sz in (-1, 1):
            parts.append(box([sx * (w / 2 - leg), seat_h / 2, sz * (d / 2 - leg)], [leg, seat_h, leg], c_leg))
    back_t = _u(rng, 0.03, 0.07)
    parts.append(box([0, seat_h + back_h / 2, d / 2 - back_t / 2], [w, back_h, back_t], c_back))
    if rng.random() < 0.5:  # armrests
        arm_h = _u(rng, 0.12, 0.22)
        for sx in (-1, 1):
            parts.append(box([sx * (w / 2 - 0.02), seat_h + arm_h, 0], [0.04, 0.03, d * 0.9], c_leg))
            parts.append(box([sx * (w / 2 - 0.02), seat_h + arm_h / 2, -d / 2 + 0.04], [0.03, arm_h, 0.03], c_leg))
    return ColoredMesh.concatenate(parts)


def table(rng: np.random.Generator) -> ColoredMesh:
    w, d = _u(rng, 0.8, 1.4), _u(rng, 0.5, 0.9)
    h, top_t = _u(rng, 0.45, 0.75), _u(rng, 0.03, 0.07)
    c_top, c_leg = _color(rng), _color(rng)
    if rng.random() < 0.3:  # round pedestal table
        r = min(w, d) / 2
        return ColoredMesh.concatenate([
            frustum([0, h, 0], r, r, top_t, c_top, segments=16),
            frustum([0, h / 2, 0], 0.04, 0.04, h, c_leg),
            frustum([0, 0.02, 0], r * 0.6, r * 0.5, 0.04, c_leg),
        ])
    leg = _u(rng, 0.04, 0.08)
    parts = [box([0, h, 0], [w, top_t, d], c_top)]
    for sx in (-1, 1):
        for sz in (-1, 1):
            parts.append(box([sx * (w / 2 - leg), h / 2, sz * (d / 2 - leg)], [leg, h, leg], c_leg))
    return ColoredMesh.concatenate(parts)


def airplane(rng: np.random.Generator) -> ColoredMesh:
    length, radius = _u(rng, 0.8, 1.1), _u(rng, 0.05, 0.09)
    span, chord = _u(rng, 0.8, 1.2), _u(rng, 0.15, 0.28)
    body, wing, tail = _color(rng), _color(rng), _color(rng)
    wing_z = _u(rng, -0.1, 0.1)
    parts = [
        ellipsoid([0, 0, 0], [radius, radius, length / 2], body),
        box([0, -radius * 0.3, wing_z], [span, 0.025, chord], wing),
        box([0, 0, length * 0.42], [span * _u(rng, 0.3, 0.45), 0.02, chord * 0.5], tail),
        box([0, radius + 0.08, length * 0.42], [0.02, _u(rng, 0.12, 0.22), chord * 0.6], tail),
    ]
    if rng.random() < 0.7:  # engines under the wings
        for sx in (-1, 1):
            parts.append(frustum([sx * span * 0.25, -radius - 0.03, wing_z - 0.03], 0.035, 0.035,
                                 chord * 0.9, body, axis="z", segments=10))
    return ColoredMesh.concatenate(parts)


def car(rng: np.random.Generator) -> ColoredMesh:
    length, width = _u(rng, 0.9, 1.2), _u(rng, 0.4, 0.55)
    body_h, cabin_h = _u(rng, 0.12, 0.2), _u(rng, 0.1, 0.18)
    wheel_r = _u(rng, 0.07, 0.1)
    paint, glass, tyre = _color(rng), np.array([0.2, 0.25, 0.3]) + rng.uniform(0, 0.1), np.array([0.08, 0.08, 0.08])
    base = wheel_r
    cabin_len = length * _u(rng, 0.4, 0.6)
    parts = [
        box([0, base + body_h / 2, 0], [width, body_h, length], paint),
        box([0, base + body_h + cabin_h / 2, _u(rng, -0.05, 0.1)], [width * 0.85, cabin_h, cabin_len], glass),
    ]
    for sx in (-1, 1):
        for sz in (-1, 1):
            parts.append(frustum([sx * (width / 2 - 0.03), wheel_r, sz * length * 0.32], wheel_r, wheel_r,
                                 0.08, tyre, axis="x", segments=12))
    return ColoredMesh.concatenate(parts)


def lamp(rng: np.random.Generator) -> ColoredMesh:
    h = _u(rng, 0.8, 1.3)
    base_r, shade_h = _u(rng, 0.12, 0.22), _u(rng, 0.18, 0.3)
    c_base, c_shade = _color(rng), _color(rng)
    parts = [
        frustum([0, 0.02, 0], base_r, base_r * 0.8, 0.04, c_base, segments=14),
        frustum([0, h / 2, 0], 0.015, 0.015, h, c_base, segments=8),
        frustum([0, h, 0], _u(rng, 0.15, 0.25), _u(rng, 0.05, 0.12), shade_h, c_shade, segments=16),
    ]
    if rng.random() < 0.5:  # a bulb below the shade
        parts.append(ellipsoid([0, h - shade_h / 2, 0], [0.05, 0.05, 0.05], np.array([0.95, 0.9, 0.6])))
    return ColoredMesh.concatenate(parts)


def bench(rng: np.random.Generator) -> ColoredMesh:
    length, depth = _u(rng, 1.0, 1.5), _u(rng, 0.3, 0.45)
    h, t = _u(rng, 0.35, 0.5), _u(rng, 0.04, 0.07)
    c_seat, c_leg = _color(rng), _color(rng)
    parts = [box([0, h, 0], [length, t, depth], c_seat)]
    for sx in (-1, 1):  # panel legs
        parts.append(box([sx * (length / 2 - 0.06), h / 2, 0], [0.05, h, depth * 0.9], c_leg))
    if rng.random() < 0.6:  # backrest
        bh = _u(rng, 0.2, 0.35)
        parts.append(box([0, h + 0.05 + bh / 2, depth / 2 - 0.02], [length, bh, 0.04], c_seat))
        for sx in (-1, 1):
            parts.append(box([sx * (length / 2 - 0.06), h + bh / 2 + 0.03, depth / 2 - 0.02],
                             [0.04, bh + 0.06, 0.04], c_leg))
    return ColoredMesh.concatenate(parts)


BUILDERS: dict[str, Builder] = {
    "90000001": chair,
    "90000002": table,
    "90000003": airplane,
    "90000004": car,
    "90000005": lamp,
    "90000006": bench,
}
