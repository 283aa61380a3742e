"""The routing figure: coupling coefficients of one image over the primary-capsule grid."""
import numpy as np

from .figure import image_range, label_axes, new_figure, save_figure, show_image

__all__ = ["plot_routing"]

_MEAN_CELL, _TYPE_CELL = 1.25, 0.42    # inches per heatmap
_INPUT = 2.2                           # inches of the input image
_MEAN_COLUMNS = 5


def _heatmap(axes, values, limits):
    return axes.imshow(values, cmap="viridis", vmin=limits[0], vmax=limits[1],
                       interpolation="nearest")


def plot_routing(path, image, lengths, coupling, class_names, title, per_type=False):
    """Draw the coupling coefficients :math:`c_{ij}` of one image as heatmaps over the grid of
    primary capsules, one per class (averaged over the capsule types, or one per type), with the
    input beside them, and save the figure.

    Parameters
    ----------
    path : str
        The image file written.
    image : numpy.ndarray
        ``(C, H, W)`` input.
    lengths : numpy.ndarray
        ``(K,)`` class capsule lengths.
    coupling : numpy.ndarray
        ``(T, H', W', K)`` from :func:`~gluon_caps.inference.coupling_maps`.
    class_names : list of str
    title : str
        First line of the title.
    per_type : bool
        One heatmap per capsule type and class (classes in rows, types in columns) instead of
        the mean over types.

    Returns
    -------
    str
        ``path``.
    """
    types, grid_height, grid_width, classes = coupling.shape
    predicted = int(np.argmax(lengths))
    if per_type:
        maps = np.transpose(coupling, (3, 0, 1, 2))                      # (K, T, H', W')
        rows, columns, cell = classes, types, _TYPE_CELL
    else:
        maps = coupling.mean(axis=0).transpose(2, 0, 1)[:, None]          # (K, 1, H', W')
        columns = min(classes, _MEAN_COLUMNS)
        rows, cell = -(-classes // columns), _MEAN_CELL
    limits = (float(maps.min()), float(maps.max()))
    maps_width = columns * cell * 1.12
    figure = new_figure(_INPUT + 1.1 + maps_width + 1.3,
                        max(rows * cell * (1.3 if not per_type else 1.08), _INPUT + 0.6) + 1.5)
    size = figure.get_size_inches()
    outer = figure.add_gridspec(1, 3, width_ratios=[_INPUT, maps_width, 0.15],
                                left=0.3 / size[0], right=1 - 1.0 / size[0],
                                top=1 - 0.95 / size[1], bottom=0.45 / size[1],
                                wspace=0.9 / ((_INPUT + maps_width) / 2))
    shown = figure.add_subplot(outer[0, 0])
    show_image(shown, image, image_range(image))
    shown.set_title("input\npredicted %s (|v| = %.2f)"
                    % (class_names[predicted], lengths[predicted]), fontsize=10)
    cells = outer[0, 1].subgridspec(rows, columns, wspace=0.12,
                                    hspace=0.12 if per_type else 0.45)
    for index in range(classes):
        for column in range(maps.shape[1]):
            where = cells[index, column] if per_type else cells[index // columns,
                                                                index % columns]
            axes = figure.add_subplot(where)
            picture = _heatmap(axes, maps[index, column], limits)
            weight = "bold" if index == predicted else "normal"
            if not per_type:
                corner = index == (rows - 1) * columns
                label_axes(axes, *(("primary-capsule column", "row") if corner else ()),
                           fontsize=8)
                axes.set_title("%s  |v| = %.2f" % (class_names[index], lengths[index]),
                               fontsize=9, fontweight=weight)
                continue
            label_axes(axes)
            if column == 0:
                axes.set_ylabel("%s (%.2f)" % (class_names[index], lengths[index]), rotation=0,
                                ha="right", va="center", fontsize=8, fontweight=weight)
            if index == 0:
                axes.set_title("type %d" % column if column == 0 else str(column), fontsize=7)
    colorbar = figure.colorbar(picture, cax=figure.add_subplot(outer[0, 2]))
    colorbar.set_label("coupling coefficient $c_{ij}$" + ("" if per_type else
                       " (mean over %d capsule types)" % types), fontsize=9)
    what = ("columns: capsule type, rows: class (capsule length)" if per_type
            else "per class, averaged over the %d capsule types" % types)
    figure.suptitle("%s\nrouting of the %dx%d grid of primary capsules to each class: %s; "
                    "uniform = %.2f" % (title, grid_height, grid_width, what, 1.0 / classes),
                    fontsize=10)
    return save_figure(figure, path)
