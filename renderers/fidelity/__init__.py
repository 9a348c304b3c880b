"""Gradient-fidelity tools: exact ground truth and measurements of renderers' gradients."""
