"""Symbol-safe functional capsule operators: each takes ``F`` (``mx.nd`` or ``mx.sym``) first."""

__all__ = ["squash", "capsule_length"]


def squash(F, s, axis=-1, eps=1e-7):
    r"""Squash capsule vectors so that their length lies in [0, 1) and their direction is kept.

    .. math:: v = \frac{\|s\|^2}{1 + \|s\|^2} \frac{s}{\sqrt{\|s\|^2 + \epsilon}}

    ``eps`` sits inside the square root, so a zero vector gives a zero output and a finite
    gradient (several capsule libraries divide by ``\|s\|`` and return NaN there).

    Parameters
    ----------
    F : module
        ``mx.nd`` or ``mx.sym``.
    s : NDArray or Symbol
        Capsule vectors of any shape, e.g. ``(batch, num_capsules, capsule_dim)``.
    axis : int
        The capsule-dimension axis.
    eps : float
        Added to the squared norm under the square root.

    Returns
    -------
    NDArray or Symbol
        Squashed vectors, same shape as ``s``.
    """
    squared_norm = F.sum(F.square(s), axis=axis, keepdims=True)          # (..., 1)
    scale = squared_norm / (1 + squared_norm) / F.sqrt(squared_norm + eps)   # (..., 1)
    return F.broadcast_mul(s, scale)                                        # (..., dim)


def capsule_length(F, v, axis=-1, eps=1e-9):
    r"""Capsule lengths :math:`\sqrt{\|v\|^2 + \epsilon}`, with a finite gradient at zero.

    Parameters
    ----------
    F : module
        ``mx.nd`` or ``mx.sym``.
    v : NDArray or Symbol
        Capsules, e.g. ``(batch, num_classes, capsule_dim)``.
    axis : int
        The capsule-dimension axis, removed from the output.

    Returns
    -------
    NDArray or Symbol
        Lengths, e.g. ``(batch, num_classes)``.
    """
    return F.sqrt(F.sum(F.square(v), axis=axis) + eps)
