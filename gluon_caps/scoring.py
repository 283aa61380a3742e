"""Scoring capsule networks: the one scorer of training validation and ``gluon-caps evaluate``.

An image is classified by its longest class capsule; a two-digit (MultiMNIST) image by its two
longest, and it is right only when they are exactly its two classes (the paper's rule).
:class:`CapsuleScore` counts errors, per-class accuracy and the confusion matrix, and sums them
over data-parallel workers.
"""
import mxnet as mx
import numpy as np
from mxnet import gluon

from .data import Subset, prepare_batch
from .nn import fast_forward

__all__ = ["predicted_classes", "match_labels", "count_errors", "CapsuleScore", "class_lengths",
           "eval_loader", "evaluate"]


def predicted_classes(lengths, labels_per_image=1):
    """The classes of the longest capsules as int64 NumPy: ``(B,)``, or ``(B, 2)`` (longest
    first) for two-digit images.

    Parameters
    ----------
    lengths : NDArray
        Capsule lengths ``(B, K)``.
    labels_per_image : int
        1, or 2 for two-digit images.
    """
    if labels_per_image == 1:
        return lengths.argmax(axis=1).astype("int64").asnumpy()
    return lengths.topk(k=labels_per_image, axis=1).astype("int64").asnumpy()


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


def _as_numpy(array):
    return array.asnumpy() if isinstance(array, mx.nd.NDArray) else np.asarray(array)


def count_errors(lengths, labels):
    """Number of misclassified images of a batch (see :func:`match_labels`).

    Parameters
    ----------
    lengths : NDArray
        Capsule lengths ``(B, K)``.
    labels : NDArray or numpy.ndarray
        ``(B,)`` class indices, or ``(B, 2)`` for two-digit images.
    """
    labels = _as_numpy(labels)
    truth, guess = match_labels(predicted_classes(lengths, 1 if labels.ndim == 1 else 2), labels)
    return int((truth != guess).any(axis=1).sum())


class CapsuleScore(mx.metric.EvalMetric):
    """Error, per-class accuracy and confusion matrix of capsule networks, as an
    :class:`mxnet.metric.EvalMetric` (``update(labels, preds)``, ``get()``).

    Parameters
    ----------
    num_classes : int
    name : str
        The metric's name; :meth:`get` returns ``(name, error)``.

    Attributes
    ----------
    count, errors : int
        Images scored, and images not entirely right.
    confusion : numpy.ndarray
        int64 ``(K, K)`` counts of matched (true, predicted) pairs, rows true.
    holding, correct : numpy.ndarray
        int64 ``(K,)``: images holding each class (a two-digit image counts for both), and the
        right ones among them.
    """

    def __init__(self, num_classes, name="error"):
        self.num_classes = num_classes
        super(CapsuleScore, self).__init__(name)

    def reset(self):
        """Forget every image scored."""
        classes = self.num_classes
        self.count = self.errors = 0
        self.confusion = np.zeros((classes, classes), dtype=np.int64)
        self.holding = np.zeros(classes, dtype=np.int64)
        self.correct = np.zeros(classes, dtype=np.int64)

    def update(self, labels, preds):
        """Score a batch: ``labels`` ``(B,)`` or ``(B, 2)`` and ``preds`` the capsule lengths
        ``(B, K)`` (NDArrays, or lists of one NDArray each as MXNet's metrics take them)."""
        if isinstance(labels, (list, tuple)):
            labels, preds = labels[0], preds[0]
        labels = _as_numpy(labels)
        truth, guess = match_labels(predicted_classes(preds, 1 if labels.ndim == 1 else 2),
                                    labels)
        right = (truth == guess).all(axis=1)
        np.add.at(self.confusion, (truth.ravel(), guess.ravel()), 1)
        np.add.at(self.holding, truth.ravel(), 1)
        np.add.at(self.correct, truth.ravel(), np.repeat(right, truth.shape[1]))
        self.count += len(right)
        self.errors += int((~right).sum())

    @property
    def error(self):
        """The fraction of images not entirely right (NaN for no image)."""
        return float(self.errors) / self.count if self.count else float("nan")

    def get(self):
        return self.name, self.error

    def sum_over(self, comm):
        """Sum the counts over the data-parallel workers of ``comm`` (every worker gets the
        totals)."""
        flat = np.concatenate([[self.count, self.errors], self.confusion.ravel(), self.holding,
                               self.correct])
        total = np.rint(comm.allreduce_sum(flat)).astype(np.int64)
        classes = self.num_classes
        self.count, self.errors = int(total[0]), int(total[1])
        self.confusion = total[2:2 + classes * classes].reshape(classes, classes)
        self.holding = total[2 + classes * classes:2 + classes * (classes + 1)]
        self.correct = total[2 + classes * (classes + 1):]
        return self

    def report(self, class_names):
        """The scores as a JSON-ready dict: ``count``, ``errors``, ``error``, ``per_class``
        (for each class: ``class``, ``name``, ``count`` of images holding it, ``correct`` among
        them, ``accuracy``) and ``confusion``."""
        per_class = [{"class": index, "name": name, "count": int(self.holding[index]),
                      "correct": int(self.correct[index]),
                      "accuracy": float(self.correct[index]) / self.holding[index]
                      if self.holding[index] else None}
                     for index, name in enumerate(class_names)]
        return {"count": self.count, "errors": self.errors, "error": self.error,
                "per_class": per_class, "confusion": self.confusion.tolist()}


def class_lengths(net, x):
    """Capsule lengths ``(B, K)`` of images ``x`` (the network without its decoder output),
    computed with the faster kernels of :func:`~gluon_caps.nn.fast_forward`."""
    with fast_forward():
        return net(x)[0]


def eval_loader(dataset, batch_size, num_workers=0, rank=0, size=1):
    """A DataLoader over this worker's contiguous part of ``dataset`` (all of it for one worker);
    the parts of all workers cover every sample exactly once."""
    if size > 1:
        dataset = Subset(dataset, np.array_split(np.arange(len(dataset)), size)[rank])
    return gluon.data.DataLoader(dataset, batch_size, shuffle=False, last_batch="keep",
                                 num_workers=num_workers)


def evaluate(net, loader, ctx, comm=None, progress=False):
    """Score ``net`` over a loader (summed over the workers of ``comm`` when given).

    Parameters
    ----------
    net : CapsNet
    loader : mxnet.gluon.data.DataLoader
        E.g. :func:`eval_loader`.
    ctx : mxnet.Context
    comm : SingleProcess or HorovodProcess, optional
    progress : bool
        Show a tqdm progress bar on stderr (after two seconds).

    Returns
    -------
    CapsuleScore
    """
    from tqdm import tqdm
    score = CapsuleScore(net.num_classes)
    for batch in tqdm(loader, desc="evaluate", unit="batch", disable=not progress, delay=2,
                      leave=False):
        x, _, _, _, labels = prepare_batch(batch, net.num_classes, ctx)
        score.update(labels, class_lengths(net, x))
    return score.sum_over(comm) if comm is not None else score
