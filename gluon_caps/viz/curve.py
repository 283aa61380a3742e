"""Learning curves of a training run, from its ``log.jsonl``."""
import json
import os

import numpy as np

from ..errors import DataFormatError, DataNotFoundError
from .figure import new_figure, save_figure

__all__ = ["read_log", "plot_learning_curve"]


def read_log(path):
    """The records of a run's ``log.jsonl``.

    Parameters
    ----------
    path : str
        A run directory or its ``log.jsonl``.

    Returns
    -------
    epochs : list of dict
        One record per completed epoch, in order: ``epoch``, ``step``, ``train_loss``,
        ``train_error``, ``val_error`` (``None`` without a validation set), ``lr``... When a run
        resumed validates an epoch again, the last record of each epoch counts.
    final : dict or None
        The last record with ``final`` (the test error of the best validation checkpoint).

    Raises
    ------
    DataNotFoundError
        No log there.
    DataFormatError
        A line is not a JSON object, or the log has no epoch; the message names the file and
        line.
    """
    if os.path.isdir(path):
        path = os.path.join(path, "log.jsonl")
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as error:
        raise DataNotFoundError("cannot read the run log %s: %s"
                                % (path, error.strerror or error)) from error
    except UnicodeDecodeError as error:
        raise DataFormatError("run log %s is not UTF-8 text" % path) from error
    epochs, final = {}, None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            raise DataFormatError("run log %s, line %d: not a JSON object" % (path, number))
        if record.get("final"):
            final = record
        elif isinstance(record.get("epoch"), int) and "train_loss" in record:
            epochs[record["epoch"]] = record
    if not epochs:
        raise DataFormatError("run log %s holds no epoch record yet" % path)
    return [epochs[epoch] for epoch in sorted(epochs)], final


def plot_learning_curve(path, epochs, final=None, title=None):
    """Draw validation error and training loss per epoch, the best validation epoch marked.

    Parameters
    ----------
    path : str
        The figure file (PNG, PDF, SVG...).
    epochs, final
        From :func:`read_log`.
    title : str, optional

    Returns
    -------
    str
        ``path``.
    """
    from matplotlib.ticker import MaxNLocator
    numbers = np.array([record["epoch"] for record in epochs])
    figure = new_figure(7.0, 4.2)
    error_axes = figure.add_subplot(1, 1, 1)
    loss_axes = error_axes.twinx()
    loss_axes.plot(numbers, [record["train_loss"] for record in epochs], color="tab:gray",
                   marker=".", label="training loss")
    loss_axes.set_ylabel("training loss (per image)", color="tab:gray")
    loss_axes.set_yscale("log")
    validated = [(record["epoch"], 100.0 * record["val_error"]) for record in epochs
                 if record.get("val_error") is not None]
    if validated:
        steps, errors = zip(*validated)
        error_axes.plot(steps, errors, color="tab:blue", marker="o", label="validation error")
        best = int(np.argmin(errors))
        error_axes.annotate("best %.2f%% (epoch %d)" % (errors[best], steps[best]),
                            (steps[best], errors[best]), textcoords="offset points",
                            xytext=(0, -14), ha="right" if best == len(steps) - 1 else "center",
                            fontsize=8, color="tab:blue")
        error_axes.set_ylim(0.0, max(errors) * 1.15)
    error_axes.set_ylabel("validation error (%)", color="tab:blue")
    error_axes.set_xlabel("epoch")
    error_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    error_axes.grid(alpha=0.3)
    text = title or ""
    if final is not None and final.get("test_error") is not None:
        text += "%stest error %.2f%% (%s)" % ("\n" if text else "", 100.0 * final["test_error"],
                                              final.get("checkpoint") or "the last network")
    if text:
        error_axes.set_title(text, fontsize=9)
    figure.tight_layout()
    return save_figure(figure, path)
