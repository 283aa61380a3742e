"""Shared pieces of the figures: a canvas without pyplot, image panels and saving."""
import os

import numpy as np

from ..errors import ConfigError, GluonCapsError

__all__ = ["new_figure", "image_range", "show_image", "label_axes", "save_figure", "DPI"]

DPI = 100


def new_figure(width, height):
    """A matplotlib Figure of ``width`` x ``height`` inches on the Agg canvas (no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    figure = Figure(figsize=(width, height), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    return figure


def image_range(images):
    """Grey levels of a set of images: ``(0, 1)`` for pixels in [0, 1], else their range
    (standardised smallNORB inputs)."""
    low, high = float(np.min(images)), float(np.max(images))
    if low >= 0.0 and high <= 1.0:
        return 0.0, 1.0
    return low, max(high, low + 1e-6)


def show_image(axes, image, value_range=(0.0, 1.0)):
    """Draw a ``(C, H, W)`` image in grey, its channels side by side (smallNORB's two cameras)."""
    axes.imshow(np.concatenate(list(image), axis=1), cmap="gray", vmin=value_range[0],
                vmax=value_range[1], interpolation="nearest")
    label_axes(axes)


def label_axes(axes, xlabel=None, ylabel=None, fontsize=9):
    """Remove ticks and frame, keeping room for axis labels."""
    axes.set_xticks([])
    axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_visible(False)
    if xlabel:
        axes.set_xlabel(xlabel, fontsize=fontsize)
    if ylabel:
        axes.set_ylabel(ylabel, fontsize=fontsize)


def save_figure(figure, path):
    """Write a figure to ``path`` in the format its extension names (PNG, PDF, SVG...); missing
    directories are created.

    Raises
    ------
    ConfigError
        An extension matplotlib cannot write.
    GluonCapsError
        The file cannot be written; the message names it.
    """
    from ..inference.files import prepare_output
    formats = figure.canvas.get_supported_filetypes()
    extension = os.path.splitext(path)[1][1:].lower()
    if extension not in formats:
        raise ConfigError("-o %s: cannot write %r figures; use one of %s"
                          % (path, extension, ", ".join("." + name for name in sorted(formats))))
    prepare_output(path)
    try:
        figure.savefig(path, dpi=DPI, facecolor="white")
    except OSError as error:
        raise GluonCapsError("cannot write %s: %s" % (path, error.strerror or error)) from error
    return path
