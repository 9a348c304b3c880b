"""Evaluation: protocol-exact voxelization and 3D IoU."""
from recon.evaluation.iou import ClassIoU, IoUSummary, mesh_iou, voxel_iou
from recon.evaluation.voxelize import voxelize, voxelize_meshes

__all__ = ["ClassIoU", "IoUSummary", "mesh_iou", "voxel_iou", "voxelize", "voxelize_meshes"]
