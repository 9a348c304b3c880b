"""Exporting reconstructions: meshes (obj/ply/glb), preview pictures, and loading the user's
own images as model inputs. The command line is :mod:`recon.export.cli` (``recon-export``).

* :mod:`recon.export.meshes`: :func:`save_mesh`, :func:`to_trimesh`.
* :mod:`recon.export.images`: :func:`load_images` (RGBA PNGs, or RGB + mask) -> ``(B, 4, 64, 64)``.
* :mod:`recon.export.previews`: :func:`save_previews` (contact sheet PNG + turntable GIF).
"""
from recon.export.images import InputImageError, load_image, load_images
from recon.export.meshes import MESH_FORMATS, save_mesh, to_trimesh
from recon.export.previews import PREVIEW_AZIMUTHS, save_previews

__all__ = ["MESH_FORMATS", "save_mesh", "to_trimesh", "InputImageError", "load_image",
           "load_images", "PREVIEW_AZIMUTHS", "save_previews"]
