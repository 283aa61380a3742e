"""Figures of what a trained CapsNet does, drawn with matplotlib (no pyplot state): the
reconstruction grid, the dimension-perturbation figure, the routing heatmaps and the learning
curve of a run."""
from .curve import plot_learning_curve, read_log
from .perturbation import plot_perturbation
from .reconstruction import plot_reconstructions
from .routing import plot_routing

__all__ = ["plot_reconstructions", "plot_perturbation", "plot_routing", "read_log",
           "plot_learning_curve"]
