"""Evaluation of a CapsNet on a data set, optionally split over data-parallel workers."""
import numpy as np
from mxnet import gluon

from ..nn import fast_forward
from .experiments import Subset, count_errors, predictions, prepare_batch

__all__ = ["predict", "evaluate", "eval_loader", "class_lengths"]


def class_lengths(net, x):
    """Capsule lengths ``(B, K)`` of images ``x`` (the network without its decoder output),
    computed with the faster kernels of :func:`~gluon_caps.nn.fast_forward`."""
    with fast_forward():
        outputs = net(x)
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def eval_loader(dataset, batch_size, num_workers=0, rank=0, size=1):
    """A DataLoader over this worker's contiguous part of ``dataset`` (all of it for one worker);
    the parts of all workers cover every sample exactly once."""
    if size > 1:
        dataset = Subset(dataset, np.array_split(np.arange(len(dataset)), size)[rank])
    return gluon.data.DataLoader(dataset, batch_size, shuffle=False, last_batch="keep",
                                 num_workers=num_workers)


def predict(net, loader, ctx):
    """Yield ``(predicted, labels)`` int64 NumPy arrays per batch: ``(B,)`` class indices, or
    ``(B, 2)`` for two-digit data (the two longest capsules, the two true classes)."""
    for batch in loader:
        x, _, _, _, labels = prepare_batch(batch, net.num_classes, ctx)
        yield predictions(class_lengths(net, x), labels), labels.astype("int64").asnumpy()


def evaluate(net, loader, ctx, comm=None):
    """Test error of ``net`` over a loader, summed over workers when ``comm`` is given.

    Returns
    -------
    dict
        ``errors``, ``count`` and ``error`` (a fraction; NaN for an empty set).
    """
    errors = count = 0
    for predicted, labels in predict(net, loader, ctx):
        errors += count_errors(predicted, labels)
        count += len(labels)
    if comm is not None:
        errors, count = comm.allreduce_sum([errors, count]).astype(np.int64)
    return {"errors": int(errors), "count": int(count),
            "error": float(errors) / count if count else float("nan")}
