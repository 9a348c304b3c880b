"""Per-face gathers on the compiled kernels: the first step of every renderer.

``gather_faces(values, faces)`` equals :func:`renderers.lighting.gather_face_vertices` and
``project_faces(vertices, eye, faces, viewing_angle)`` equals
``gather_face_vertices(project(vertices, eye, viewing_angle), faces)`` (the plain PyTorch
references of the same math, see :mod:`renderers.camera`), but the perspective division and
the gather run as one compiled pass, and the backward sums each vertex's corners in one
deterministic pass (on CUDA one thread per vertex over a vertex-to-corner incidence table, no
atomics, in the CPU's order of additions) instead of a chain of small tensor ops and an
``index_add``. Not twice differentiable. ``scatter_add_corners`` is the same backward as an op
of its own: the deterministic sum of per-corner values into their vertices.
"""

from __future__ import annotations

import torch

from ._ext import check_device, extension
from .camera import look_at, perspective_scale

__all__ = ["gather_faces", "project_faces", "scatter_add_corners"]


class _GatherFaces(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values: torch.Tensor, faces: torch.Tensor, scale: float, emulate_cuda: bool,
                check_indices: bool) -> torch.Tensor:
        ctx.save_for_backward(values, faces)
        ctx.scale, ctx.emulate_cuda = scale, emulate_cuda
        return extension().gather_faces_forward(values, faces, scale, emulate_cuda, check_indices)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        values, faces = ctx.saved_tensors
        grad_values = None
        if ctx.needs_input_grad[0]:
            grad_values = extension().gather_faces_backward(values, faces, grad_output.contiguous(), ctx.scale,
                                                            ctx.emulate_cuda, False)  # checked in the forward
        return grad_values, None, None, None, None


class _ScatterAddCorners(torch.autograd.Function):
    """Per-corner values ``(B, F, 3, C)`` summed into their vertices ``(B, V, C)``: the gather's
    backward (scale 0), whose own backward is the gather."""

    @staticmethod
    def forward(ctx, corner_values: torch.Tensor, faces: torch.Tensor, num_vertices: int,
                check_indices: bool) -> torch.Tensor:
        ctx.save_for_backward(faces)
        shape = (corner_values.shape[0], num_vertices, corner_values.shape[-1])
        return extension().gather_faces_backward(corner_values.new_zeros(shape), faces, corner_values.contiguous(),
                                                 0.0, False, check_indices)

    @staticmethod
    def backward(ctx, grad_vertices: torch.Tensor):
        (faces,) = ctx.saved_tensors
        return _GatherFaces.apply(grad_vertices.contiguous(), faces, 0.0, False, False), None, None, None


def _shared(faces: torch.Tensor) -> torch.Tensor:
    """``(F, 3)`` when ``faces (B, F, 3)`` is one face list expanded over the batch."""
    if faces.dim() == 3 and faces.shape[0] > 0 and faces.stride(0) == 0:
        return faces[0]
    return faces


def _gather(values: torch.Tensor, faces: torch.Tensor, scale: float, emulate_cuda: bool,
            indices_checked: bool) -> torch.Tensor:
    check_device(values, "values")
    return _GatherFaces.apply(values, _shared(faces), scale, emulate_cuda, not indices_checked)


def gather_faces(values: torch.Tensor, faces: torch.Tensor, emulate_cuda: bool = False, *,
                 indices_checked: bool = False) -> torch.Tensor:
    """Per-face copies ``(B, F, 3, C)`` of per-vertex ``values (B, V, C)``.

    faces: int64 ``(F, 3)`` shared by the batch or ``(B, F, 3)``; indices are range-checked (a
    device-to-host copy) unless ``indices_checked`` says the caller has done so (the renderers,
    through :class:`renderers.checks.HostChecks`). The backward never checks again.
    emulate_cuda: run the CUDA launch sequences (gather_launch.h) serially on CPU tensors (tests).
    """
    return _gather(values, faces, 0.0, emulate_cuda, indices_checked)


def scatter_add_corners(corner_values: torch.Tensor, faces: torch.Tensor, num_vertices: int, *,
                        indices_checked: bool = False) -> torch.Tensor:
    """``(B, V, C)``: each vertex's sum of the ``corner_values (B, F, 3, C)`` of the face corners that
    use it, in ascending corner order on every device (deterministic, unlike ``index_add_`` on
    CUDA). Differentiable (its backward is :func:`gather_faces`). faces: ``(F, 3)`` or ``(B, F, 3)``;
    ``indices_checked`` as for :func:`gather_faces`."""
    check_device(corner_values, "corner_values")
    if corner_values.dtype not in (torch.float32, torch.float64):
        corners = _ScatterAddCorners.apply(corner_values.float(), _shared(faces), int(num_vertices), not indices_checked)
        return corners.to(corner_values.dtype)
    return _ScatterAddCorners.apply(corner_values, _shared(faces), int(num_vertices), not indices_checked)


def project_faces(vertices: torch.Tensor, eye: torch.Tensor, faces: torch.Tensor, viewing_angle: float = 15.0,
                  emulate_cuda: bool = False, *, indices_checked: bool = False) -> torch.Tensor:
    """Screen-space faces ``(B, F, 3, 3)``, per corner ``(x_ndc, y_ndc, z)``.

    vertices: ``(B, V, 3)`` world coordinates; eye: ``(B, 3)`` cameras looking at the origin;
    faces: int64 ``(F, 3)`` or ``(B, F, 3)``; viewing_angle: half field of view in degrees.
    Differentiable with respect to ``vertices`` and ``eye``. ``indices_checked`` as for
    :func:`gather_faces`.
    """
    return _gather(look_at(vertices, eye), faces, perspective_scale(viewing_angle), emulate_cuda, indices_checked)
