"""Evaluation reports: test error, per-class accuracy and confusion matrix of a network on an
evaluation set (scored by :class:`~gluon_caps.scoring.CapsuleScore`, as in training)."""
from ..scoring import eval_loader, evaluate

__all__ = ["evaluation_report", "format_report"]


def evaluation_report(net, data, ctx, batch_size=100, progress=False):
    """Score a network on a data set.

    Parameters
    ----------
    net : CapsNet
        The network.
    data : EvalData
        From :func:`~gluon_caps.inference.eval_data`.
    ctx : mxnet.Context
        The device.
    batch_size : int
        Images per forward pass.
    progress : bool
        Show a tqdm progress bar on stderr (after two seconds).

    Returns
    -------
    dict
        ``dataset``, ``count`` (images), ``errors`` (images not entirely right), ``error``
        (a fraction; NaN for no image), ``labels_per_image``, ``per_class`` (for each true class:
        ``class``, ``name``, ``count`` of images holding it, ``correct`` among them and
        ``accuracy``; a two-digit image counts for both its classes) and ``confusion``
        (``K x K`` counts of matched (true, predicted) pairs, rows true; see
        :func:`~gluon_caps.scoring.match_labels`).
    """
    score = evaluate(net, eval_loader(data.dataset, batch_size), ctx, progress=progress)
    return dict(score.report(data.class_names), dataset=data.name,
                labels_per_image=data.labels_per_image)


def _percent(value):
    return "-" if value is None else "%.2f%%" % (100.0 * value)


def format_report(report):
    """The report of :func:`evaluation_report` as a table for people (one string)."""
    names = [row["name"] for row in report["per_class"]]
    width = max(6, max(len(name) for name in names) + 1)
    lines = ["test error: %s (%s of %s images%s)"
             % (_percent(report["error"]), format(report["errors"], ","),
                format(report["count"], ","),
                "; an image is right only when both its classes are found"
                if report["labels_per_image"] == 2 else ""),
             "",
             "%-*s %9s %9s %9s" % (width, "class", "images", "correct", "accuracy")]
    for row in report["per_class"]:
        lines.append("%-*s %9d %9d %9s" % (width, row["name"], row["count"], row["correct"],
                                           _percent(row["accuracy"])))
    cells = max(5, len(str(max(max(row) for row in report["confusion"]))) + 1)
    lines += ["", "confusion matrix (rows: true class, columns: predicted class)",
              " " * width + "".join("%*s" % (cells, name[:cells - 1]) for name in names)]
    for name, row in zip(names, report["confusion"]):
        lines.append("%-*s" % (width, name) + "".join("%*d" % (cells, value) for value in row))
    return "\n".join(lines)
