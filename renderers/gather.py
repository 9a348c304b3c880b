"""Per-face gathers on the compiled kernels: the first step of every renderer.

``gather_faces(values, faces)`` equals :func:`renderers.lighting.gather_face_vertices` and
``project_faces(vertices, eye, faces, viewing_angle)`` equals
``gather_face_vertices(project(vertices, eye, viewing_angle), faces)`` (the plain PyTorch
references of the same math, see :mod:`renderers.camera`), but the perspective division and
the gather run as one compiled pass, and the backward sums each vertex's corners in one
deterministic pass on the CPU (with atomics on CUDA) instead of a chain of small tensor ops
and an ``index_add``. Not twice differentiable.
"""

from __future__ import annotations

import torch

from ._ext import check_device, extension
from .camera import look_at, perspective_scale

__all__ = ["gather_faces", "project_faces"]


class _GatherFaces(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values: torch.Tensor, faces: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(values, faces)
        ctx.scale = scale
        return extension().gather_faces_forward(values, faces, scale)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        values, faces = ctx.saved_tensors
        grad_values = None
        if ctx.needs_input_grad[0]:
            grad_values = extension().gather_faces_backward(values, faces, grad_output.contiguous(), ctx.scale)
        return grad_values, None, None


def _shared(faces: torch.Tensor) -> torch.Tensor:
    """``(F, 3)`` when ``faces (B, F, 3)`` is one face list expanded over the batch."""
    if faces.dim() == 3 and faces.shape[0] > 0 and faces.stride(0) == 0:
        return faces[0]
    return faces


def _gather(values: torch.Tensor, faces: torch.Tensor, scale: float) -> torch.Tensor:
    check_device(values, "values")
    return _GatherFaces.apply(values, _shared(faces), scale)


def gather_faces(values: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Per-face copies ``(B, F, 3, C)`` of per-vertex ``values (B, V, C)``.

    faces: int64 ``(F, 3)`` shared by the batch or ``(B, F, 3)``; indices are range-checked.
    """
    return _gather(values, faces, 0.0)


def project_faces(vertices: torch.Tensor, eye: torch.Tensor, faces: torch.Tensor, viewing_angle: float = 15.0) -> torch.Tensor:
    """Screen-space faces ``(B, F, 3, 3)``, per corner ``(x_ndc, y_ndc, z)``.

    vertices: ``(B, V, 3)`` world coordinates; eye: ``(B, 3)`` cameras looking at the origin;
    faces: int64 ``(F, 3)`` or ``(B, F, 3)``; viewing_angle: half field of view in degrees.
    Differentiable with respect to ``vertices`` and ``eye``.
    """
    return _gather(look_at(vertices, eye), faces, perspective_scale(viewing_angle))
