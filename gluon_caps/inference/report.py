"""Evaluation reports: test error, per-class accuracy and confusion matrix."""
import numpy as np

__all__ = ["match_labels", "evaluation_report", "format_report"]


def match_labels(predicted, labels):
    """Pair each true class of an image with one predicted class.

    Parameters
    ----------
    predicted, labels : numpy.ndarray
        int ``(B,)``, or ``(B, 2)`` for two-digit images (the two longest capsules, the two true
        classes).

    Returns
    -------
    truth, guess : numpy.ndarray
        int64 ``(B, L)``, ``L`` = 1 or 2: true classes and their predicted partners. Two predicted
        classes are matched to the true ones so that as many pairs as possible agree, so an image
        is right (the paper's MultiMNIST scoring: both classes found) exactly when all its pairs
        agree.
    """
    truth = np.asarray(labels, dtype=np.int64).reshape(len(labels), -1)
    guess = np.asarray(predicted, dtype=np.int64).reshape(len(labels), -1)
    if truth.shape[1] == 2:
        swapped = guess[:, ::-1]
        swap = (swapped == truth).sum(axis=1) > (guess == truth).sum(axis=1)
        guess = np.where(swap[:, None], swapped, guess)
    return truth, guess


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
        :func:`match_labels`).
    """
    from tqdm import tqdm
    from ..training import eval_loader, predict

    classes = len(data.class_names)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    holding = np.zeros(classes, dtype=np.int64)
    correct = np.zeros(classes, dtype=np.int64)
    count = errors = 0
    loader = eval_loader(data.dataset, batch_size)
    batches = tqdm(predict(net, loader, ctx), total=len(loader), desc="evaluate", unit="batch",
                   disable=not progress, delay=2, leave=False)
    for predicted, labels in batches:
        truth, guess = match_labels(predicted, labels)
        right = (truth == guess).all(axis=1)
        np.add.at(confusion, (truth.ravel(), guess.ravel()), 1)
        np.add.at(holding, truth.ravel(), 1)
        np.add.at(correct, truth.ravel(), np.repeat(right, truth.shape[1]))
        count += len(right)
        errors += int((~right).sum())
    per_class = [{"class": index, "name": name, "count": int(holding[index]),
                  "correct": int(correct[index]),
                  "accuracy": float(correct[index]) / holding[index] if holding[index] else None}
                 for index, name in enumerate(data.class_names)]
    return {"dataset": data.name, "count": count, "errors": errors,
            "error": float(errors) / count if count else float("nan"),
            "labels_per_image": data.labels_per_image, "per_class": per_class,
            "confusion": confusion.tolist()}


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
