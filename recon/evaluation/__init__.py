"""Evaluation: protocol-exact voxelization and 3D IoU."""
from recon.evaluation.iou import IoUAccumulator, mesh_iou, voxel_iou
from recon.evaluation.voxelize import voxelize, voxelize_meshes

__all__ = ["IoUAccumulator", "mesh_iou", "voxel_iou", "voxelize", "voxelize_meshes"]
