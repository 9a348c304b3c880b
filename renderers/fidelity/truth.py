"""Scenes whose true image gradient is known, for measuring renderers' gradients.

Each :class:`TruthScene` is a world mesh seen by one camera, with an independent ground truth of
its **box-filtered** image (each pixel the mean of the scene over its area):

* *closed form* (``scene.exact``): the exact image of convex pieces by per-pixel polygon clipping
  (:mod:`renderers.fidelity.exact`) of the projected vertices, differentiated by autograd. Used for
  a fully visible triangle, a convex closed mesh (whose silhouette is the convex hull of its
  projected vertices) and a triangle in front of a quad (the intersection polygon).
* *finite differences* (:func:`finite_difference_derivatives`): central differences of a heavily
  supersampled render (the hard z-buffer at ``factor`` (32) times the size, averaged over blocks:
  visibility code independent of the edge sampler's) along a few smooth directions (translations
  and random affine deformations), with the error bar from two step sizes. Used for a self-occluding non-convex mesh with smooth lit
  shading, the same mesh partly off-screen, and a uniformly coloured smooth-shaded sphere turned
  about its centre under a fixed light (the "illumination, not geometry" case: the true image
  barely changes, so the true derivative along the rotation is about zero).

All tensors are float64; the camera looks at the origin from ``points_from_angles(*eye)``.
Geometry scenes use ambient light only (flat colours stay flat), the shading scenes ambient plus
directional light.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .. import registry
from ..camera import points_from_angles, project
from ..lighting import Lighting
from ..scenes import bumpy_sphere
from .exact import convex_hull, convex_silhouette, layered_image

__all__ = [
    "TruthScene",
    "truth_scenes",
    "supersampled_image",
    "finite_difference_derivatives",
    "linear_loss",
    "smooth_weights",
    "iou_loss",
    "shifted_target",
    "AMBIENT_ONLY",
    "SHADED",
]

VIEWING_ANGLE = 15.0
AMBIENT_ONLY = dict(light_intensity_ambient=1.0, light_intensity_directional=0.0)
SHADED = dict(light_intensity_ambient=0.4, light_intensity_directional=0.6, light_direction=(0.4, 0.8, -0.6))


@dataclasses.dataclass
class TruthScene:
    """One benchmark scene.

    vertices: ``(1, V, 3)`` world; faces ``(F, 3)``; eye ``(1, 3)``.
    textures: ``(1, F, 1, 3)`` flat colours, ``(1, V, 3)`` vertex colours or None (white).
    light: renderer lighting options (the scene's light).
    exact: world vertices ``(1, V, 3)`` -> exact image ``(1, 4, S, S)`` (differentiable), or None
        for the finite-difference scenes.
    directions: for finite-difference scenes, directions ``(K, V, 3)`` (root-mean-square vertex
        displacement 1) in which derivatives are compared (the illumination scene's: its rotation,
        then a translation).
    step: the finite-difference step along a direction, world units (a quarter pixel).
    """

    name: str
    vertices: torch.Tensor
    faces: torch.Tensor
    eye: torch.Tensor
    textures: torch.Tensor | None
    light: dict
    image_size: int
    exact: Callable[[torch.Tensor], torch.Tensor] | None = None
    directions: torch.Tensor | None = None
    silhouette_only: bool = False
    step: float = 0.0

    def lighting(self) -> Lighting:
        o = self.light
        return Lighting(
            ambient_intensity=o.get("light_intensity_ambient", 0.5),
            directional_intensity=o.get("light_intensity_directional", 0.5),
            direction=o.get("light_direction", (0.0, 1.0, 0.0)),
        )


def _screen(vertices: torch.Tensor, eye: torch.Tensor) -> torch.Tensor:
    return project(vertices, eye, VIEWING_ANGLE)[0, :, :2]


def _facing_triangle(points: list[list[float]], z: float = 0.0) -> torch.Tensor:
    return torch.tensor([[p[0], p[1], z] for p in points], dtype=torch.float64)


def _triangle_scene(size: int) -> TruthScene:
    eye = points_from_angles(2.732, 0.0, 0.0)[None].double()  # at -z, looking along +z
    vertices = _facing_triangle([[-0.42, -0.3], [0.4, -0.12], [0.05, 0.45]])[None]
    colour = torch.tensor([0.9, 0.45, 0.15], dtype=torch.float64)

    def exact(v: torch.Tensor) -> torch.Tensor:
        return layered_image([_screen(v, eye)], [colour], size)[None]

    return TruthScene("triangle", vertices, torch.tensor([[0, 1, 2]]), eye, colour.view(1, 1, 1, 3), AMBIENT_ONLY,
                      size, exact)


def _convex_scene(size: int) -> TruthScene:
    import trimesh  # noqa: PLC0415

    mesh = trimesh.creation.icosphere(subdivisions=1, radius=0.32)
    eye = points_from_angles(2.732, 20.0, 35.0)[None].double()
    vertices = torch.tensor(mesh.vertices)[None]

    def exact(v: torch.Tensor) -> torch.Tensor:
        points = _screen(v, eye)
        alpha = convex_silhouette(points[convex_hull(points.detach())], size)
        return torch.cat((torch.zeros(3, size, size, dtype=alpha.dtype), alpha[None]))[None]

    return TruthScene("convex mesh", vertices, torch.tensor(mesh.faces), eye, None, AMBIENT_ONLY, size, exact,
                      silhouette_only=True)


def _occlusion_scene(size: int) -> TruthScene:
    eye = points_from_angles(2.732, 0.0, 0.0)[None].double()
    front = _facing_triangle([[-0.14, -0.6], [0.6, 0.06], [-0.2, 0.27]], z=-0.4)
    back = _facing_triangle([[-0.45, -0.4], [0.32, -0.46], [0.4, 0.32], [-0.32, 0.4]], z=0.3)
    vertices = torch.cat((front, back))[None]
    faces = torch.tensor([[0, 1, 2], [3, 4, 5], [3, 5, 6]])
    colours = [torch.tensor([0.9, 0.2, 0.1], dtype=torch.float64), torch.tensor([0.1, 0.3, 0.8], dtype=torch.float64)]
    textures = torch.stack((colours[0], colours[1], colours[1])).view(1, 3, 1, 3)

    def exact(v: torch.Tensor) -> torch.Tensor:
        points = _screen(v, eye)
        return layered_image([points[:3], points[3:]], colours, size)[None]

    return TruthScene("occlusion", vertices, faces, eye, textures, AMBIENT_ONLY, size, exact)


def _rms_unit(d: torch.Tensor) -> torch.Tensor:
    """Directions ``(K, V, 3)`` scaled to a root-mean-square vertex displacement of 1."""
    return d / (d.flatten(1).norm(dim=1) / math.sqrt(d.shape[1]))[:, None, None]


def _smooth_directions(vertices: torch.Tensor, seed: int) -> torch.Tensor:
    """Smooth motions of all vertices ``(4, V, 3)``: translations along x and y, and two random
    affine maps ``v -> A v`` (low-frequency deformations keep the mesh valid and the image
    smooth in the step, where independent per-vertex noise would fold faces)."""
    gen = torch.Generator().manual_seed(seed)
    v = vertices[0]
    moves = [torch.tensor([1.0, 0.0, 0.0], dtype=v.dtype).expand_as(v), torch.tensor([0.0, 1.0, 0.0], dtype=v.dtype).expand_as(v)]
    for _ in range(2):
        moves.append(v @ torch.randn(3, 3, generator=gen, dtype=v.dtype).T)
    return _rms_unit(torch.stack(moves))


def _half_pixel(size: int, distance: float = 2.732) -> float:
    """Half a pixel in world units at the origin's distance (the finite-difference step)."""
    return 0.5 * 2.0 * distance * math.tan(math.radians(VIEWING_ANGLE)) / size


def _bumpy_scene(size: int, name: str, shift: tuple[float, float, float]) -> TruthScene:
    vertices, faces = bumpy_sphere(2, radius=0.33, seed=3, bumps=0.3)
    vertices = (vertices + torch.tensor(shift, dtype=torch.float64))[None]
    eye = points_from_angles(2.732, 25.0, 40.0)[None].double()
    gen = torch.Generator().manual_seed(4)
    colours = 0.3 + 0.7 * torch.rand(1, vertices.shape[1], 3, generator=gen, dtype=torch.float64)
    return TruthScene(name, vertices, faces, eye, colours, SHADED, size,
                      directions=_smooth_directions(vertices, 5), step=_half_pixel(size) / 2)


def _illumination_scene(size: int) -> TruthScene:
    import trimesh  # noqa: PLC0415

    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.35)
    vertices = torch.tensor(mesh.vertices)[None]
    eye = points_from_angles(2.732, 10.0, 0.0)[None].double()
    colours = torch.full((1, vertices.shape[1], 3), 0.8, dtype=torch.float64)
    axis = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)  # turn about the vertical axis
    rotation = torch.linalg.cross(axis.expand_as(vertices[0]), vertices[0])
    translation = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64).expand_as(vertices[0])
    directions = _rms_unit(torch.stack((rotation, translation)))
    return TruthScene("illumination", vertices, torch.tensor(mesh.faces), eye, colours, SHADED, size,
                      directions=directions, step=_half_pixel(size) / 2)


def truth_scenes(size: int = 32) -> list[TruthScene]:
    """The benchmark's scenes at ``size x size`` (see the module docstring)."""
    return [
        _triangle_scene(size),
        _convex_scene(size),
        _occlusion_scene(size),
        _bumpy_scene(size, "self-occluding lit", (0.0, 0.0, 0.0)),
        _bumpy_scene(size, "partly off-screen", (0.45, 0.1, 0.0)),
        _illumination_scene(size),
    ]


def supersampled_image(scene: TruthScene, vertices: torch.Tensor, factor: int = 16,
                       lights: Lighting | None = None) -> torch.Tensor:
    """The scene's box-filtered image estimated by the hard z-buffer at ``factor`` times the size
    (pixel-centre samples) averaged over ``factor x factor`` blocks: ``(1, 4, S, S)``."""
    renderer = registry.create("nmr", image_size=scene.image_size * factor, viewing_angle=VIEWING_ANGLE,
                               anti_aliasing=False, silhouette_only=scene.silhouette_only, **scene.light)
    image = renderer(vertices, scene.faces, scene.eye, scene.textures, lights=lights)
    return F.avg_pool2d(image, factor)


@torch.no_grad()
def finite_difference_derivatives(scene: TruthScene, loss: Callable[[torch.Tensor], torch.Tensor],
                                  factor: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences of ``loss(supersampled image)`` along ``scene.directions``: derivatives
    ``(K,)`` at step h and their error bars ``(K,)`` (difference from the step 2h estimate)."""
    values, bars = [], []
    for direction in scene.directions:
        estimates = []
        for h in (scene.step, 2 * scene.step):
            plus = loss(supersampled_image(scene, scene.vertices + h * direction[None], factor))
            minus = loss(supersampled_image(scene, scene.vertices - h * direction[None], factor))
            estimates.append(float(plus - minus) / (2 * h))
        values.append(estimates[0])
        bars.append(abs(estimates[0] - estimates[1]))
    return torch.tensor(values, dtype=torch.float64), torch.tensor(bars, dtype=torch.float64)


def smooth_weights(size: int, seed: int = 12) -> torch.Tensor:
    """Random loss weights ``(1, 4, S, S)`` varying over a quarter of the image (random 4x4, bilinearly
    upsampled): a smooth loss, whose adjoint barely changes across an edge, so that finite
    differences and Monte Carlo estimators are both quiet enough to compare."""
    coarse = torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


def linear_loss(weights: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``sum(weights * image)`` for fixed weights ``(1, 4, S, S)``."""
    return lambda image: (image * weights).sum()


def iou_loss(target_alpha: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``1 - IoU`` of the silhouette channel against ``target_alpha (1, S, S)`` (the training loss)."""

    def loss(image: torch.Tensor) -> torch.Tensor:
        alpha = image[:, 3]
        intersection = (alpha * target_alpha).sum()
        union = (alpha + target_alpha - alpha * target_alpha).sum()
        return 1.0 - intersection / union.clamp(min=1e-12)

    return loss


def shifted_target(scene: TruthScene, pixels: float = 1.5) -> torch.Tensor:
    """The scene's true silhouette moved ``pixels`` to the right and up (IoU target) ``(1, S, S)``."""
    scale = 2.0 * math.tan(math.radians(VIEWING_ANGLE)) * float(scene.eye.norm()) / scene.image_size
    rotation_x = torch.linalg.cross(torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), -scene.eye[0])
    right = rotation_x / rotation_x.norm()
    up = torch.linalg.cross(-scene.eye[0] / scene.eye[0].norm(), right)
    moved = scene.vertices + pixels * scale * (right + up)
    image = scene.exact(moved) if scene.exact is not None else supersampled_image(scene, moved)
    return image[:, 3].detach()
