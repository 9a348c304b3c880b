"""Optimisation outcome: recovering a known rigid pose by gradient descent through a renderer.

The gradient-fidelity benchmark measures gradients directly elsewhere; this module measures what
they are used for. A non-symmetric, smoothly coloured mesh (:func:`pose_scene`) is placed at a
known pose (:data:`TRUE_POSE`), rendered, and its translation and rotation are recovered from the
RGBA image by Adam, starting from reproducible offsets of given magnitudes
(:func:`starting_offsets`). Per renderer and offset magnitude, :func:`pose_recovery_table`
reports the success rate and the final errors, which is where a smoothing renderer (SoftRas with
a large ``sigma``) is claimed to have a wider basin of convergence than a sharp one.

Conventions:

* A pose ``(t, r)`` maps a vertex ``v`` of the scene to ``R(r) v + t``: rotation about the
  origin by the axis-angle ``r`` (radians, Rodrigues), then translation by ``t`` (world units).
* The rotation error is the angle of ``R_est^T R_true`` in degrees, the translation error the
  Euclidean distance ``|t_est - t_true|``; a run succeeds when both end below
  :data:`SUCCESS_TRANSLATION` and :data:`SUCCESS_ROTATION_DEG`.
* By default the target image is rendered by the *same* renderer at the true pose
  (analysis by synthesis: each renderer fits its own blur). ``target=`` replaces it by an image
  computed otherwise (e.g. an exact box-filtered image shared by every renderer).
* Renderers may be stochastic (fresh Monte Carlo samples per call): nothing assumes that two
  calls give the same image, and the errors are those of the last iterate.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import statistics
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..camera import look_at_rotation, points_from_angles
from ..scenes import bumpy_sphere

__all__ = [
    "SUCCESS_TRANSLATION",
    "SUCCESS_ROTATION_DEG",
    "DEFAULT_STEPS",
    "DEFAULT_LR",
    "DEFAULT_ROTATION_LR",
    "FINAL_LR_FRACTION",
    "SCENE_SCALE",
    "TRUE_POSE",
    "DEFAULT_EYE",
    "PoseResult",
    "pose_scene",
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "apply_pose",
    "rotation_error_deg",
    "translation_error",
    "compose_offset",
    "starting_offsets",
    "recover_pose",
    "pose_recovery_table",
]

#: a run succeeds when its final translation error (world units) is below this ...
SUCCESS_TRANSLATION = 0.02
#: ... and its final rotation error (degrees) is below this
SUCCESS_ROTATION_DEG = 2.0

#: Adam steps of :func:`recover_pose`
DEFAULT_STEPS = 150
#: Adam learning rate of the translation (world units per step, at the start)
DEFAULT_LR = 0.04
#: Adam learning rate of the axis-angle (radians per step, at the start)
DEFAULT_ROTATION_LR = 0.08
#: the learning rates decay (cosine) to this fraction of their initial values at the last step
FINAL_LR_FRACTION = 0.1

#: anisotropic stretch of the bumpy sphere (x, y, z), so that no rotation leaves it invariant
SCENE_SCALE = (1.3, 0.8, 1.0)
#: the pose to recover: translation (world units) and axis-angle (radians, 20 degrees)
TRUE_POSE = (
    (0.03, -0.02, 0.04),
    tuple(math.radians(20.0) * c / math.sqrt(1 + 4 + 4) for c in (1.0, 2.0, -2.0)),
)
#: the camera of :func:`pose_recovery_table`: distance 2.732, elevation 30, azimuth 30 degrees
DEFAULT_EYE = (2.732, 30.0, 30.0)

_SMALL_ANGLE_SQ = 1e-6  # below this squared angle, Rodrigues' coefficients use their Taylor series


@dataclasses.dataclass
class PoseResult:
    """The outcome of one :func:`recover_pose` run.

    translation_error: final ``|t_est - t_true|`` in world units.
    rotation_error_deg: final angle of ``R_est^T R_true`` in degrees.
    initial_translation_error, initial_rotation_error_deg: the same at the start.
    success: both final errors below :data:`SUCCESS_TRANSLATION` and :data:`SUCCESS_ROTATION_DEG`.
    losses: the image loss at every step (before that step's update).
    translation_errors, rotation_errors_deg: the pose errors at every step (before the update).
    translation, axis_angle: the final estimate (float64).
    seconds: wall time of the optimisation (target rendering excluded).
    """

    translation_error: float
    rotation_error_deg: float
    initial_translation_error: float
    initial_rotation_error_deg: float
    success: bool
    losses: list[float]
    translation_errors: list[float]
    rotation_errors_deg: list[float]
    translation: torch.Tensor
    axis_angle: torch.Tensor
    seconds: float


def pose_scene(dtype: torch.dtype = torch.float32):
    """The object whose pose is recovered: ``vertices (V, 3)``, ``faces (F, 3)``, ``colors (V, 3)``.

    ``bumpy_sphere(subdivisions=2)`` (irregular bumps) stretched by :data:`SCENE_SCALE`, with
    colours ``0.5 + 0.5 * v / |v|`` (each channel follows one axis, so every rotation changes
    the image). Centred on the origin.
    """
    vertices, faces = bumpy_sphere(subdivisions=2)
    vertices = vertices * torch.tensor(SCENE_SCALE, dtype=torch.float64)
    vertices = vertices - vertices.mean(0)
    colors = 0.5 + 0.5 * vertices / vertices.norm(dim=-1, keepdim=True)
    return vertices.to(dtype), faces.long(), colors.to(dtype)


def _skew(r: torch.Tensor) -> torch.Tensor:
    zero = torch.zeros_like(r[..., 0])
    x, y, z = r.unbind(-1)
    return torch.stack(
        (torch.stack((zero, -z, y), -1), torch.stack((z, zero, -x), -1), torch.stack((-y, x, zero), -1)), -2
    )


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues: ``(..., 3)`` axis-angle (radians) to ``(..., 3, 3)`` rotation matrices.

    ``R = I + a K + b K^2`` with ``K`` the cross-product matrix of the axis-angle itself,
    ``a = sin(t)/t``, ``b = (1 - cos t)/t^2``; near ``t = 0`` their Taylor series are used, so
    the value and the gradient are finite (and exact to rounding) at zero.
    """
    theta_sq = (axis_angle * axis_angle).sum(-1)
    small = theta_sq < _SMALL_ANGLE_SQ
    safe_sq = torch.where(small, torch.ones_like(theta_sq), theta_sq)  # no 0/0 (nor its gradient) at zero
    theta = torch.sqrt(safe_sq)
    a = torch.where(small, 1 - theta_sq / 6 + theta_sq * theta_sq / 120, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta_sq / 24 + theta_sq * theta_sq / 720, (1 - torch.cos(theta)) / safe_sq)
    k = _skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand_as(k)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`axis_angle_to_matrix` (angle in ``[0, pi]``), ``(..., 3, 3) -> (..., 3)``.

    Not meant to be differentiated; accurate near 0 and near pi.
    """
    m = matrix.detach().to(torch.float64)
    vee = torch.stack((m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]), -1)
    sin_norm = vee.norm(dim=-1)  # 2 sin(angle)
    cos = (m.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    angle = torch.atan2(sin_norm / 2, cos)
    scale = torch.where(sin_norm > 1e-12, angle / sin_norm.clamp_min(1e-300), torch.full_like(angle, 0.5))
    out = vee * scale[..., None]
    # Near pi, sin(angle) carries no information: the axis comes from the symmetric part.
    near_pi = cos < -0.99
    if near_pi.any():
        sym = (m + m.transpose(-1, -2)) / 2 - cos[..., None, None] * torch.eye(3, dtype=m.dtype)
        column = sym.diagonal(dim1=-2, dim2=-1).argmax(-1)
        axis = torch.gather(sym, -1, column[..., None, None].expand(*sym.shape[:-1], 1)).squeeze(-1)
        axis = axis / axis.norm(dim=-1, keepdim=True)
        axis = torch.where(((axis * vee).sum(-1) < 0)[..., None], -axis, axis)
        out = torch.where(near_pi[..., None], axis * angle[..., None], out)
    return out.to(matrix.dtype)


def apply_pose(vertices: torch.Tensor, translation: torch.Tensor, axis_angle: torch.Tensor) -> torch.Tensor:
    """``(V, 3)`` vertices rotated about the origin by ``axis_angle (3,)`` then translated by
    ``translation (3,)``; differentiable in all three (finite gradients at zero angle)."""
    rotation = axis_angle_to_matrix(axis_angle.to(vertices.dtype))
    return vertices @ rotation.transpose(-1, -2) + translation.to(vertices.dtype)


def rotation_error_deg(axis_angle_est: torch.Tensor, axis_angle_true: torch.Tensor) -> float:
    """Angle in degrees of ``R_est^T R_true`` (computed in float64, accurate at small angles)."""
    r_est = axis_angle_to_matrix(torch.as_tensor(axis_angle_est).detach().to(torch.float64))
    r_true = axis_angle_to_matrix(torch.as_tensor(axis_angle_true).detach().to(torch.float64))
    return float(matrix_to_axis_angle(r_est.transpose(-1, -2) @ r_true).norm()) * 180.0 / math.pi


def translation_error(translation_est: torch.Tensor, translation_true: torch.Tensor) -> float:
    """``|t_est - t_true|`` in world units."""
    diff = torch.as_tensor(translation_est).detach().to(torch.float64) - torch.as_tensor(translation_true).detach().to(torch.float64)
    return float(diff.norm())


def _pose_tensors(pose) -> tuple[torch.Tensor, torch.Tensor]:
    t, r = pose
    return (torch.as_tensor(t, dtype=torch.float64).detach().clone().reshape(3),
            torch.as_tensor(r, dtype=torch.float64).detach().clone().reshape(3))


def compose_offset(true_pose, offset) -> tuple[torch.Tensor, torch.Tensor]:
    """The start pose at ``offset = (dt, dr)`` from ``true_pose = (t, r)``: translation ``t + dt``,
    rotation ``R(dr) R(r)``, so that its errors are exactly ``|dt|`` and ``|dr|`` (radians)."""
    t, r = _pose_tensors(true_pose)
    dt, dr = _pose_tensors(offset)
    return t + dt, matrix_to_axis_angle(axis_angle_to_matrix(dr) @ axis_angle_to_matrix(r))


def starting_offsets(
    count: int, seed: int, translation_scale: float, rotation_scale_deg: float
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``count`` reproducible offsets ``(dt (3,), dr (3,))`` (float64): ``dt`` of length
    ``translation_scale`` and ``dr`` an axis-angle of ``rotation_scale_deg`` degrees, their
    directions independent and uniform on the sphere; the first ``k`` do not depend on ``count``.
    Apply them with :func:`compose_offset`."""
    if count < 0:
        raise ValueError(f"count must be non-negative, got {count!r}")
    gen = torch.Generator().manual_seed(int(seed))
    # one small draw per offset, so that the first k offsets do not depend on count
    directions = [torch.randn(2, 3, generator=gen, dtype=torch.float64) for _ in range(count)]
    directions = [d / d.norm(dim=-1, keepdim=True) for d in directions]
    t_scale = float(translation_scale)
    r_scale = math.radians(float(rotation_scale_deg))
    return [(d[0] * t_scale, d[1] * r_scale) for d in directions]


def _image_loss(image: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    if loss == "mse":
        return ((image - target) ** 2).mean()
    if loss == "l1":
        return (image - target).abs().mean()
    raise ValueError(f"loss must be 'mse' or 'l1', got {loss!r}")


def recover_pose(
    renderer: nn.Module,
    scene,
    eye: torch.Tensor,
    true_pose,
    start_pose,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    loss: str = "mse",
    target: torch.Tensor | None = None,
    rotation_lr: float | None = None,
    camera_frame: bool = True,
) -> PoseResult:
    """Recovers ``true_pose = (t, r)`` of ``scene = (vertices, faces, colors)`` (from
    :func:`pose_scene`) by Adam on the image loss, starting at ``start_pose = (t, r)``.

    eye: ``(3,)`` camera position (or ``(N, 3)`` for several views of the same pose).
    target: ``(N, 4, S, S)`` RGBA to fit; ``None`` renders it with ``renderer`` at the true pose.
    lr, rotation_lr: Adam learning rates of the translation and of the axis-angle
        (``rotation_lr`` defaults to ``lr * DEFAULT_ROTATION_LR / DEFAULT_LR``), decayed by a
        cosine to :data:`FINAL_LR_FRACTION` of themselves over the run.
    loss: ``"mse"`` (mean squared error over the four RGBA channels) or ``"l1"``.
    camera_frame: Adam works on the translation and the axis-angle expressed in the (first)
        camera's frame, so that depth, which moves the image far less than a sideways shift,
        gets its own step size (in world coordinates it is a mix of all three and converges
        many times slower); ``False`` optimises the world components. Either way the pose and
        its errors are reported in world coordinates.
    """
    if steps < 0:
        raise ValueError(f"steps must be non-negative, got {steps!r}")
    vertices, faces, colors = scene
    dtype = vertices.dtype
    eye = torch.as_tensor(eye, dtype=dtype, device=vertices.device)
    eye = eye.reshape(-1, 3)
    views = eye.shape[0]
    textures = None if colors is None else colors.to(dtype).expand(views, -1, -1)
    t_true, r_true = _pose_tensors(true_pose)

    # Adam's variables are camera-frame displacements d from the start: world = start + frame^T d
    # (axis-angles transform as vectors, R(Q r) = Q R(r) Q^T). Starting at d = 0 exactly keeps a
    # start at the truth there (no rounding for Adam to amplify into a full step).
    frame = look_at_rotation(eye[:1].to(torch.float64))[0] if camera_frame else torch.eye(3, dtype=torch.float64)

    def render(t: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        posed = apply_pose(vertices, t, r)
        return renderer(posed.expand(views, -1, -1), faces, eye, textures)

    t0, r0 = _pose_tensors(start_pose)

    def to_world(d: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        return start.to(d.dtype) + d @ frame.to(d.dtype)

    if target is None:
        with torch.no_grad():
            target = render(t_true.to(dtype), r_true.to(dtype))
    target = target.detach().to(dtype)

    t = torch.zeros(3, dtype=dtype, device=vertices.device, requires_grad=True)
    r = torch.zeros(3, dtype=dtype, device=vertices.device, requires_grad=True)
    if rotation_lr is None:
        rotation_lr = lr * DEFAULT_ROTATION_LR / DEFAULT_LR
    optimizer = torch.optim.Adam([{"params": [t], "lr": lr}, {"params": [r], "lr": rotation_lr}])
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda k: FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * k / max(steps - 1, 1))),
    )
    losses, t_errors, r_errors = [], [], []
    start = time.perf_counter()
    for _ in range(steps):
        t_errors.append(translation_error(to_world(t.detach().double(), t0), t_true))
        r_errors.append(rotation_error_deg(to_world(r.detach().double(), r0), r_true))
        optimizer.zero_grad(set_to_none=True)
        value = _image_loss(render(to_world(t, t0), to_world(r, r0)), target, loss)
        value.backward()
        losses.append(float(value.detach()))
        if not (torch.isfinite(t.grad).all() and torch.isfinite(r.grad).all()):
            break  # a non-finite gradient: stop, and report the pose reached
        optimizer.step()
        schedule.step()
    seconds = time.perf_counter() - start
    t_final, r_final = to_world(t.detach().double(), t0), to_world(r.detach().double(), r0)
    t_err, r_err = translation_error(t_final, t_true), rotation_error_deg(r_final, r_true)
    return PoseResult(
        translation_error=t_err,
        rotation_error_deg=r_err,
        initial_translation_error=translation_error(t0, t_true),
        initial_rotation_error_deg=rotation_error_deg(r0, r_true),
        success=bool(t_err < SUCCESS_TRANSLATION and r_err < SUCCESS_ROTATION_DEG),
        losses=losses,
        translation_errors=t_errors,
        rotation_errors_deg=r_errors,
        translation=t_final,
        axis_angle=r_final,
        seconds=seconds,
    )


def _build(factory: Callable[..., nn.Module], image_size: int) -> nn.Module:
    """``factory(image_size=...)`` where it takes that keyword, else ``factory()`` checked to
    render at ``image_size``."""
    try:
        takes_size = "image_size" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        takes_size = False
    renderer = factory(image_size=image_size) if takes_size else factory()
    size = getattr(getattr(renderer, "options", None), "image_size", None)
    if size is not None and int(size) != int(image_size):
        raise ValueError(f"the factory built a renderer of image_size {size}, but the table is at image_size {image_size}")
    return renderer


def pose_recovery_table(
    configs: dict[str, Callable[[], nn.Module]],
    magnitudes: Sequence[tuple[float, float]],
    starts_per_magnitude: int,
    steps: int = DEFAULT_STEPS,
    image_size: int = 64,
    seed: int = 0,
    lr: float = DEFAULT_LR,
    rotation_lr: float | None = None,
    dtype: torch.dtype = torch.float32,
) -> list[dict]:
    """Success rates of :func:`recover_pose` per renderer and offset magnitude.

    configs: label -> factory of a renderer (called with ``image_size=`` if it accepts that
        keyword, otherwise it must build a renderer of ``image_size``).
    magnitudes: ``(translation_offset, rotation_offset_deg)`` pairs; each gets
        ``starts_per_magnitude`` starts from :func:`starting_offsets` around :data:`TRUE_POSE`
        (the same starts for every renderer), seen from :data:`DEFAULT_EYE`.
    Each run seeds torch's global generator (restored afterwards) with ``seed`` and its index, so
    stochastic renderers are reproducible too.

    Returns one row per (renderer, magnitude): ``renderer``, ``translation_offset``,
    ``rotation_offset_deg``, ``starts``, ``success_rate``, ``median_translation_error``,
    ``median_rotation_error_deg``, ``seconds_per_run``.
    """
    scene = pose_scene(dtype)
    eye = points_from_angles(*DEFAULT_EYE).to(dtype)
    rows = []
    for label, factory in configs.items():
        renderer = _build(factory, image_size)
        for m, (t_scale, r_deg) in enumerate(magnitudes):
            offsets = starting_offsets(starts_per_magnitude, seed * 1000 + m, t_scale, r_deg)
            results = []
            for k, offset in enumerate(offsets):
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed * 1_000_000 + m * 1000 + k)
                    results.append(recover_pose(renderer, scene, eye, TRUE_POSE, compose_offset(TRUE_POSE, offset),
                                                steps=steps, lr=lr, rotation_lr=rotation_lr))
            count = max(len(results), 1)
            rows.append(
                dict(
                    renderer=label,
                    translation_offset=float(t_scale),
                    rotation_offset_deg=float(r_deg),
                    starts=len(results),
                    success_rate=sum(r.success for r in results) / count,
                    median_translation_error=statistics.median(r.translation_error for r in results) if results else math.nan,
                    median_rotation_error_deg=statistics.median(r.rotation_error_deg for r in results) if results else math.nan,
                    seconds_per_run=sum(r.seconds for r in results) / count,
                )
            )
    return rows
