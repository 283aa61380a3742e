"""The reconstruction figure (the paper's Fig. 3): inputs over their reconstructions."""
import numpy as np

from .figure import image_range, new_figure, save_figure, show_image

__all__ = ["plot_reconstructions"]

_CELL = 1.1            # inches per image
_LEFT, _TOP, _BOTTOM, _MIN_WIDTH = 1.3, 1.25, 0.2, 7.0
_ROW_NAMES = {2: ("input", "reconstruction"), 3: ("input", "longest capsule", "2nd longest")}


def _names(classes, names):
    return ",".join(names[int(index)] for index in np.atleast_1d(classes))


def plot_reconstructions(path, images, labels, classes, reconstructions, class_names, title):
    """Draw inputs (top row) over the reconstructions of their longest capsules (one row per
    decoded capsule) and save the figure.

    Parameters
    ----------
    path : str
        The image file written (its extension gives the format).
    images : numpy.ndarray
        ``(N, C, H, W)`` inputs.
    labels : numpy.ndarray
        ``(N,)`` or ``(N, 2)`` true classes.
    classes : numpy.ndarray
        ``(N, T)``, T = 1 or 2: decoded classes, longest capsule first (from
        :func:`~gluon_caps.inference.reconstruct_images`).
    reconstructions : numpy.ndarray
        ``(N, T, C, H, W)``.
    class_names : list of str
    title : str
        First line of the figure's title.

    Returns
    -------
    str
        ``path``.
    """
    count, rows = len(images), 1 + reconstructions.shape[1]
    channels, height, width = images.shape[1:]
    cell_width = _CELL * channels * width / float(height)
    grid_width = count * cell_width
    margin = max(_MIN_WIDTH - _LEFT - grid_width, 0.2)      # room for the title
    figure = new_figure(_LEFT + grid_width + margin, _TOP + _BOTTOM + rows * _CELL)
    size = figure.get_size_inches()
    figure.subplots_adjust(left=_LEFT / size[0], right=1 - margin / size[0],
                           top=1 - _TOP / size[1], bottom=_BOTTOM / size[1],
                           wspace=0.08, hspace=0.08)
    grid = figure.add_gridspec(rows, count)
    ranges = image_range(images), image_range(reconstructions)
    labels = labels.reshape(count, -1)
    row_names = _ROW_NAMES[rows]
    for column in range(count):
        wrong = sorted(labels[column]) != sorted(classes[column, :labels.shape[1]])
        for row in range(rows):
            axes = figure.add_subplot(grid[row, column])
            show_image(axes, reconstructions[column, row - 1] if row else images[column],
                       ranges[min(row, 1)])
            if column == 0:
                axes.set_ylabel(row_names[row], rotation=0, ha="right", va="center",
                                fontsize=10)
        figure.axes[-rows].set_title(
            "label %s\npred %s" % (_names(labels[column], class_names),
                                   _names(classes[column], class_names)),
            fontsize=9, color="red" if wrong else "black")
    figure.suptitle("%s\nreconstructed from the longest class capsule%s (red: misclassified)"
                    % (title, "s" if rows > 2 else ""), fontsize=11)
    return save_figure(figure, path)
