"""Differentiable mesh renderers for PyTorch, on the CPU and CUDA.

    >>> import renderers
    >>> renderer = renderers.create("softras", image_size=64, sigma=1e-4)   # or "nmr", "opendr", "edge"
    >>> rgba = renderer(vertices, faces, eye)             # (B, 4, 64, 64)
    >>> eye = renderers.points_from_angles(2.732, 30, -15 * torch.arange(24))

Every renderer takes ``vertices (B, V, 3)``, ``faces (F, 3) | (B, F, 3)``, ``eye (B, 3)`` and
optional ``textures`` (per-vertex ``(B, V, 3)``, per-face ``(B, F, R*R, 3)``; NMR and OpenDR also
per-face ``(B, F, N, N, N, 3)``) and returns
``(B, 4, H, W)`` RGBA with the silhouette in channel 3. ``renderers.available()`` lists them.
"""

from . import edge as _edge  # noqa: F401  (registers "edge")
from . import nmr as _nmr  # noqa: F401  (registers "nmr")
from . import opendr as _opendr  # noqa: F401  (registers "opendr")
from . import simd
from . import softras as _softras  # noqa: F401  (registers "softras")
from .base import Mesh, RenderOptions, Renderer
from .camera import look_at, look_at_rotation, perspective, points_from_angles, project
from .gather import gather_faces, project_faces
from .edge import EdgeOptions, EdgeRenderer, edge_rasterize, edge_shadow_rasterize
from .lighting import Lighting, directional_light, face_normals, vertex_normals
from .nmr import NMROptions, NMRRenderer, RasterMaps, hard_rasterize, rasterize_maps
from .opendr import OpenDRMaps, OpenDROptions, OpenDRRenderer, opendr_maps, opendr_rasterize
from .registry import available, create, option_names, register
from .softras import SoftRasOptions, SoftRasRenderer, soft_rasterize
from .topology import edge_table, soup_edge_table

__all__ = [
    "simd",
    "create",
    "available",
    "option_names",
    "register",
    "Renderer",
    "RenderOptions",
    "Mesh",
    "SoftRasRenderer",
    "SoftRasOptions",
    "soft_rasterize",
    "NMRRenderer",
    "NMROptions",
    "hard_rasterize",
    "rasterize_maps",
    "RasterMaps",
    "EdgeRenderer",
    "EdgeOptions",
    "edge_rasterize",
    "edge_shadow_rasterize",
    "Lighting",
    "OpenDRRenderer",
    "OpenDROptions",
    "opendr_rasterize",
    "opendr_maps",
    "OpenDRMaps",
    "edge_table",
    "soup_edge_table",
    "points_from_angles",
    "look_at",
    "look_at_rotation",
    "perspective",
    "project",
    "project_faces",
    "gather_faces",
    "directional_light",
    "face_normals",
    "vertex_normals",
]
