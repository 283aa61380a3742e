"""The dimension-perturbation figure (the paper's Fig. 4): one row per capsule dimension, one
column per value added to it."""
from .figure import image_range, new_figure, save_figure, show_image

__all__ = ["plot_perturbation"]

_CELL = 0.62           # inches per image
_LEFT, _RIGHT, _TOP, _BOTTOM = 0.95, 0.15, 1.15, 0.5


def plot_perturbation(path, images, steps, title):
    """Draw the decoded images of a perturbed capsule as a dimensions x steps grid and save it.

    Parameters
    ----------
    path : str
        The image file written.
    images : numpy.ndarray
        ``(D, S, C, H, W)`` from :func:`~gluon_caps.inference.perturb_capsule`.
    steps : sequence of float
        The ``S`` values added; the column of 0 (the unchanged capsule) is framed.
    title : str
        The figure's title (what was perturbed).

    Returns
    -------
    str
        ``path``.
    """
    dims, count = images.shape[:2]
    channels, height, width = images.shape[2:]
    cell_width = _CELL * channels * width / float(height)
    figure = new_figure(_LEFT + _RIGHT + count * cell_width, _TOP + _BOTTOM + dims * _CELL)
    size = figure.get_size_inches()
    figure.subplots_adjust(left=_LEFT / size[0], right=1 - _RIGHT / size[0],
                           top=1 - _TOP / size[1], bottom=_BOTTOM / size[1],
                           wspace=0.06, hspace=0.06)
    grid = figure.add_gridspec(dims, count)
    value_range = image_range(images)
    for dim in range(dims):
        for column, step in enumerate(steps):
            axes = figure.add_subplot(grid[dim, column])
            show_image(axes, images[dim, column], value_range)
            if step == 0:
                for spine in axes.spines.values():
                    spine.set(visible=True, color="tab:orange", linewidth=2)
            if column == 0:
                axes.set_ylabel("dim %d" % dim, rotation=0, ha="right", va="center", fontsize=9)
            if dim == 0:
                axes.set_title("%+.2f" % step if step else "0 (as is)", fontsize=9,
                               fontweight="bold" if step == 0 else "normal")
    figure.text(0.5, 0.25 / size[1],
                "value added to one dimension (the other %d unchanged)" % (dims - 1),
                ha="center", va="center", fontsize=10)
    figure.suptitle(title, fontsize=11)
    return save_figure(figure, path)
