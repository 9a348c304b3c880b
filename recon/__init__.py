"""diffmesh-recon: single-view 3D mesh reconstruction with differentiable renderers."""

__version__ = "0.1.0"
