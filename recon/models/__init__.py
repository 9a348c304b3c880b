"""Encoders, the sphere-deforming decoder, its vertex parameterizations and the template."""
from recon.models.decoder import MeshDecoder
from recon.models.encoders import ConvEncoder, ResNetEncoder
from recon.models.network import MeshPrediction, ReconstructionNet
from recon.models.template import icosphere

__all__ = ["ConvEncoder", "ResNetEncoder", "MeshDecoder", "MeshPrediction", "ReconstructionNet", "icosphere"]
