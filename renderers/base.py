"""What every renderer shares: options, input checks, camera, lighting, textures, output.

A renderer subclasses :class:`Renderer`, declares its options as a dataclass deriving from
:class:`RenderOptions`, registers itself with :func:`renderers.registry.register`, and
implements :meth:`Renderer.rasterize`, which receives faces already in screen space:

* ``face_vertices (B, F, 3, 3)``: per face, per corner ``(x_ndc, y_ndc, z_depth)``
  (see :mod:`renderers.camera` for the conventions);
* ``face_colors``: ``None`` for silhouette-only rendering, else ``(B, F, 3, 3)`` lit
  per-corner colours (``kind == "vertex"``), ``(B, F, R*R, 3)`` lit surface colours
  (``kind == "surface"``) or, for renderers whose ``texture_kinds`` include it,
  ``(B, F, N**3, 3)`` lit volume colours (``kind == "volume"``);

and ``mesh``, the call's :class:`Mesh`: its face list, its edge topology (computed on first use
and cached per face list) for renderers that need connectivity, and the call's sampling state
(``seed``) for Monte Carlo renderers (``None`` when screen-space faces are rasterized directly).
It returns ``(B, 4, H, W)`` RGBA with the silhouette in channel 3. Lighting is applied before
``rasterize`` (see :mod:`renderers.lighting`), so every renderer differentiates it alike.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn

from .checks import HostChecks, adding_to
from .gather import gather_faces, project_faces
from .lighting import Lighting, face_normals, light_parts, vertex_normals
from .textures import check_textures
from .topology import edge_table

__all__ = ["RenderOptions", "Renderer", "Mesh", "check_mesh_inputs", "check_positive", "check_depth_range",
           "lit_face_colors", "COMPUTE_DTYPES"]

#: dtypes the kernels compute in; float16 / bfloat16 inputs are computed in float32 and the image is
#: returned in the input dtype (so mixed-precision training works)
COMPUTE_DTYPES = (torch.float32, torch.float64)


def _check_color(value: Sequence[float], name: str) -> tuple[float, float, float]:
    values = tuple(float(v) for v in value)
    if len(values) != 3:
        raise ValueError(f"{name} must have 3 components, got {value!r}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return values  # type: ignore[return-value]


def check_positive(options: object, *names: str) -> None:
    """Raises a ValueError naming the first option of ``names`` that is not a positive finite number."""
    for name in names:
        value = getattr(options, name)
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def check_depth_range(near: float, far: float, finite_far: bool) -> None:
    """The near-plane policy shared by every renderer: ``near`` is a positive finite depth (faces
    with a corner nearer than it are not drawn), ``far > near`` (``+inf`` where ``finite_far`` is
    false)."""
    if not (math.isfinite(float(near)) and float(near) > 0.0):
        raise ValueError(f"near must be a positive finite depth (faces with a corner nearer than near are not "
                         f"drawn), got {near!r}")
    if not float(near) < float(far) or (finite_far and not math.isfinite(float(far))):
        bound = "a finite depth larger than near" if finite_far else "larger than near (+inf allowed)"
        raise ValueError(f"far must be {bound}, got near={near!r}, far={far!r}")


@dataclasses.dataclass
class RenderOptions:
    """Options common to every renderer.

    image_size: output height and width in pixels.
    viewing_angle: half field of view in degrees.
    background: RGB of empty pixels.
    light_*: ambient and directional lighting (see :mod:`renderers.lighting`).
    silhouette_only: skip all colour work; RGB channels are returned as zeros.
    """

    image_size: int = 64
    viewing_angle: float = 15.0
    background: Sequence[float] = (0.0, 0.0, 0.0)
    light_intensity_ambient: float = 0.5
    light_color_ambient: Sequence[float] = (1.0, 1.0, 1.0)
    light_intensity_directional: float = 0.5
    light_color_directional: Sequence[float] = (1.0, 1.0, 1.0)
    light_direction: Sequence[float] = (0.0, 1.0, 0.0)
    silhouette_only: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, int) or not 1 <= self.image_size <= 16384:
            raise ValueError(f"image_size must be an integer in [1, 16384], got {self.image_size!r}")
        if not 0.0 < float(self.viewing_angle) < 90.0:
            raise ValueError(f"viewing_angle (half field of view, degrees) must be in (0, 90), got {self.viewing_angle!r}")
        self.background = _check_color(self.background, "background")
        self.light_color_ambient = _check_color(self.light_color_ambient, "light_color_ambient")
        self.light_color_directional = _check_color(self.light_color_directional, "light_color_directional")
        self.light_direction = _check_color(self.light_direction, "light_direction")
        if sum(v * v for v in self.light_direction) == 0.0:
            raise ValueError("light_direction must not be the zero vector")
        for name in ("light_intensity_ambient", "light_intensity_directional"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"{name} must be a non-negative finite number, got {getattr(self, name)!r}")


def _choice(value: str, choices: Sequence[str], name: str) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_mesh_inputs(
    vertices: torch.Tensor, faces: torch.Tensor, eye: torch.Tensor, checks: HostChecks | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validates ``vertices (B, V, 3)``, ``faces (F, 3) | (B, F, 3)``, ``eye (B, 3) | (3,)``.

    Returns faces as int64 ``(B, F, 3)`` and eye as ``(B, 3)`` in the vertices' dtype. Shapes,
    dtypes and devices are checked at once; the value checks (finite, eye away from the origin,
    index range) are added to ``checks`` and raise when the caller resolves it, or, without
    ``checks``, here, in one device-to-host copy.
    """
    if not isinstance(vertices, torch.Tensor) or not vertices.is_floating_point():
        raise TypeError(f"vertices must be a floating-point tensor, got {getattr(vertices, 'dtype', type(vertices))}")
    if vertices.dim() != 3 or vertices.shape[-1] != 3:
        raise ValueError(f"vertices must have shape (B, V, 3), got {tuple(vertices.shape)}")
    batch, num_vertices, _ = vertices.shape
    if not isinstance(faces, torch.Tensor) or faces.is_floating_point() or faces.dtype == torch.bool:
        raise TypeError(f"faces must be an integer tensor (int64), got {getattr(faces, 'dtype', type(faces))}")
    faces = faces.long()  # before expanding, so that a shared face list stays one (F, 3) block
    shared_faces = faces  # range-checked before expanding: B times fewer indices to scan
    if faces.dim() == 2:
        faces = faces.unsqueeze(0).expand(batch, -1, -1)
    if faces.dim() != 3 or faces.shape[-1] != 3 or faces.shape[0] != batch:
        raise ValueError(f"faces must have shape (F, 3) or (B, F, 3) with B = {batch}, got {tuple(faces.shape)}")
    if not isinstance(eye, torch.Tensor):
        eye = torch.as_tensor(eye, dtype=vertices.dtype, device=vertices.device)
    if eye.dim() == 1:
        eye = eye.unsqueeze(0).expand(batch, -1)
    if eye.shape != (batch, 3):
        raise ValueError(f"eye must have shape (B, 3) = ({batch}, 3) or (3,), got {tuple(eye.shape)}")
    for tensor, what in ((faces, "faces"), (eye, "eye")):
        if tensor.device != vertices.device:
            raise ValueError(f"{what} is on {tensor.device} but vertices are on {vertices.device}")
    eye = eye.to(vertices.dtype)
    with adding_to(checks) as checks:
        checks.add([torch.isfinite(vertices).all()],
                   lambda finite: None if finite else ValueError("vertices contain NaN or infinite values"))
        checks.add([torch.isfinite(eye).all()],
                   lambda finite: None if finite else ValueError("eye contains NaN or infinite values"))
        if batch > 0:
            checks.add([eye.detach().double().square().sum(-1).amin()], lambda distance2: None if distance2 > 1e-24 else
                       ValueError("eye must not be at the look-at target (the origin): the viewing direction is undefined"))
        if faces.numel() > 0:
            def index_range(low: float, high: float) -> Exception | None:
                if low < 0 or high >= num_vertices:
                    return IndexError(f"face indices must be in [0, {num_vertices - 1}] (V = {num_vertices}), "
                                      f"got range [{int(low)}, {int(high)}]")
                return None

            checks.add(list(torch.aminmax(shared_faces)), index_range)
    return vertices, faces, eye


def lit_face_colors(vertices: torch.Tensor, faces: torch.Tensor, textures: torch.Tensor, kind: str, light: dict,
                    parts: bool = False):
    """Per-face lit colours ``(B, F, T, 3)`` (``T`` = 3 corners for vertex colours, ``R*R`` or ``N**3``
    for surface and volume textures) of checked ``textures`` under ``light`` (keyword arguments of
    :func:`renderers.lighting.light_parts`); vertex colours are lit with vertex normals, the others
    with face normals. ``parts=True``: the ambient and directional parts, each ``(B, F, T, 3)``."""
    batch, num_faces = faces.shape[:2]
    if kind == "vertex":
        factors = light_parts(vertex_normals(vertices, faces, indices_checked=True), **light)
    else:
        if kind == "volume":
            textures = textures.reshape(batch, num_faces, -1, 3)
        normals = face_normals(gather_faces(vertices, faces, indices_checked=True))
        factors = tuple(part[:, :, None, :] for part in light_parts(normals, **light))
    lit = [textures * factor for factor in factors] if parts else [textures * (factors[0] + factors[1])]
    if kind == "vertex":
        lit = [gather_faces(part, faces, indices_checked=True) for part in lit]
    return tuple(lit) if parts else lit[0]


@dataclasses.dataclass(frozen=True, eq=False)
class Mesh:
    """The face list and per-call state of one render call, passed to :meth:`Renderer.rasterize`.

    faces: ``(B, F, 3)`` int64 vertex indices (one face list expanded over the batch, or one per
    image).
    seed: the call's sampling seed for Monte Carlo renderers (``None``: the renderer's own rule);
    deterministic renderers ignore it.
    """

    faces: torch.Tensor
    seed: int | None = None

    @property
    def edges(self) -> torch.Tensor:
        """Edge table ``(E, 6)`` (or ``(B, E, 6)`` for per-image face lists) int32 on the faces'
        device; see :mod:`renderers.topology`. Cached per face list."""
        return edge_table(self.faces)


class Renderer(nn.Module):
    """Base class of every renderer: ``module(vertices, faces, eye, textures=None)``."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[RenderOptions]] = RenderOptions
    #: texture kinds (see :mod:`renderers.textures`) that ``rasterize`` accepts
    texture_kinds: ClassVar[tuple[str, ...]] = ("vertex", "surface")

    def __init__(self, **options) -> None:
        super().__init__()
        self.options = self.Options(**options)

    def extra_repr(self) -> str:
        return ", ".join(f"{f.name}={getattr(self.options, f.name)!r}" for f in dataclasses.fields(self.options))

    def forward(
        self,
        vertices: torch.Tensor,
        faces: torch.Tensor,
        eye: torch.Tensor,
        textures: torch.Tensor | None = None,
        *,
        lights: Lighting | None = None,
        seed: int | None = None,
    ) -> torch.Tensor:
        """Renders ``(B, 4, H, W)`` RGBA; channel 3 is the silhouette.

        vertices: ``(B, V, 3)`` world coordinates.
        faces: ``(F, 3)`` or ``(B, F, 3)`` integer vertex indices.
        eye: ``(B, 3)`` camera positions, each looking at the origin with +Y up.
        textures: ``None`` (white), per-vertex ``(B, V, 3)``, per-face ``(B, F, R*R, 3)`` or, where
            the renderer accepts them, per-face volumes ``(B, F, N, N, N, 3)``.
        lights: the lighting as (differentiable) tensors, shared or per image; ``None``: the
            options' ``light_*`` values (see :class:`renderers.lighting.Lighting`).
        seed: fixes a Monte Carlo renderer's samples for this call (ignored by the others).

        Computed in float32 or float64 (the vertices' dtype); float16 / bfloat16 inputs are
        computed in float32 and the image is returned in their dtype. Autocast is disabled
        inside, so under mixed precision the renderer still computes in full precision.
        """
        output_dtype = vertices.dtype if isinstance(vertices, torch.Tensor) else None
        if output_dtype in (torch.float16, torch.bfloat16):
            vertices = vertices.float()
        device_type = vertices.device.type if isinstance(vertices, torch.Tensor) else "cpu"
        with torch.autocast(device_type=device_type, enabled=False):
            image = self._render(vertices, faces, eye, textures, lights, seed)
        return image if output_dtype in COMPUTE_DTYPES or output_dtype is None else image.to(output_dtype)

    def _render(self, vertices, faces, eye, textures, lights, seed) -> torch.Tensor:
        # Every value check of the call is read back in one device-to-host copy (checks.resolve),
        # before any kernel runs; the gathers then skip their own index checks.
        checks = HostChecks()
        vertices, faces, eye = check_mesh_inputs(vertices, faces, eye, checks)
        opts = self.options
        shading = None if opts.silhouette_only else self._checked_shading(vertices, faces, textures, lights, checks)
        checks.resolve()
        face_screen = project_faces(vertices, eye, faces, opts.viewing_angle, indices_checked=True)
        mesh = Mesh(faces, seed)
        if shading is None:
            return self.rasterize(face_screen, None, "surface", mesh)
        return self._rasterize_lit(vertices, face_screen, shading, mesh)

    def _rasterize_lit(self, vertices: torch.Tensor, face_screen: torch.Tensor, shading, mesh: Mesh) -> torch.Tensor:
        """Lights the colours (``shading`` from :meth:`_checked_shading`) and rasterizes them; a
        renderer that shades differently (edge sampling with shadows) overrides this."""
        textures, kind, light = shading
        face_colors = lit_face_colors(vertices, mesh.faces, textures, kind, light)
        return self.rasterize(face_screen, face_colors, kind, mesh)

    def _checked_shading(self, vertices, faces, textures, lights, checks: HostChecks):
        """``(textures in the vertices' dtype, their kind, the lights as keyword arguments)``; shapes,
        kinds and devices checked at once, values added to ``checks``."""
        opts = self.options
        batch, num_faces = faces.shape[:2]
        if textures is None:
            textures = vertices.new_ones(batch, num_faces, 1, 3)
        kind = check_textures(textures, batch, vertices.shape[1], num_faces, checks)
        if kind not in self.texture_kinds:
            raise ValueError(
                f"renderer {self.name!r} does not accept {kind} textures of shape {tuple(textures.shape)}; "
                f"it accepts: {', '.join(self.texture_kinds)} (see renderers.textures)"
            )
        if textures.device != vertices.device:
            raise ValueError(f"textures are on {textures.device} but vertices are on {vertices.device}")
        if lights is None:
            lights = Lighting(
                ambient_intensity=opts.light_intensity_ambient,
                ambient_color=opts.light_color_ambient,
                directional_intensity=opts.light_intensity_directional,
                directional_color=opts.light_color_directional,
                direction=opts.light_direction,
            )
        elif not isinstance(lights, Lighting):
            raise TypeError(f"lights must be a renderers.Lighting, got {type(lights).__name__}")
        return textures.to(vertices.dtype), kind, lights.checked(batch, vertices, checks).as_kwargs()

    def rasterize(
        self, face_vertices: torch.Tensor, face_colors: torch.Tensor | None, kind: str, mesh: Mesh | None = None
    ) -> torch.Tensor:
        """Screen-space faces to ``(B, 4, H, W)``; see the module docstring."""
        raise NotImplementedError
