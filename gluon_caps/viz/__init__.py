"""Figures of what a trained CapsNet does, drawn with matplotlib (no pyplot state): the
reconstruction grid, the dimension-perturbation figure and the routing heatmaps."""
from .perturbation import plot_perturbation
from .reconstruction import plot_reconstructions
from .routing import plot_routing

__all__ = ["plot_reconstructions", "plot_perturbation", "plot_routing"]
