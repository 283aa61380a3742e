"""How a DataLoader batch of any of the data sets becomes a network's inputs and targets."""
import mxnet as mx

__all__ = ["prepare_batch"]


def prepare_batch(batch, num_classes, ctx):
    """Network inputs and targets of a DataLoader batch.

    Parameters
    ----------
    batch : list of NDArray
        ``(images, labels)``, or ``(images, labels, digits)`` for two-digit samples.
    num_classes : int
    ctx : mxnet.Context

    Returns
    -------
    x : NDArray
        Images ``(B, C, H, W)``.
    target : NDArray
        k-hot class targets ``(B, K)`` of the margin loss.
    mask : NDArray
        Decoder masks: ``(B, K)``, or ``(B, 2, K)`` for two digits (one reconstruction each).
    reconstruction_target : NDArray
        ``(B, C, H, W)``, or the two single digits ``(B, 2, C, H, W)``.
    labels : NDArray
        ``(B,)`` or ``(B, 2)`` class indices.
    """
    x = batch[0].as_in_context(ctx)
    labels = batch[1].as_in_context(ctx)
    mask = mx.nd.one_hot(labels, num_classes)                                  # (B, [2,] K)
    if len(batch) == 3:                                                        # two digits
        return x, mask.sum(axis=1), mask, batch[2].as_in_context(ctx), labels
    return x, mask, mask, x, labels
