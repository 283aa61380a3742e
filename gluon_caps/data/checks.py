"""Argument checks (ConfigError) and data checks (DataFormatError) the readers share."""
import numpy as np

from ..errors import ConfigError, DataFormatError

__all__ = ["check_choice", "check_pairs"]


def check_choice(name, value, choices):
    """Raise :class:`ConfigError` naming the argument unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError("%s must be one of %s, got %r"
                          % (name, ", ".join(map(repr, choices)), value))
    return value


def check_pairs(images, labels, image_shape, num_classes, image_file, label_file):
    """Check that images and labels belong together; return the labels as int32.

    Parameters
    ----------
    images : numpy.ndarray
        Shape (N, ...) as read.
    labels : numpy.ndarray
        Shape (N,) as read (integer).
    image_shape : tuple of int
        The expected shape of one image.
    num_classes : int
        Labels must lie in ``[0, num_classes)``.
    image_file, label_file : str
        File names for the messages.

    Raises
    ------
    DataFormatError
        On a wrong image shape or dtype, a count mismatch or a label out of range.
    """
    if images.dtype != np.uint8 or images.shape[1:] != tuple(image_shape):
        raise DataFormatError("%s: expected uint8 images of shape (N, %s), found %s %s"
                              % (image_file, ", ".join(map(str, image_shape)), images.dtype,
                                 images.shape))
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataFormatError("%s: expected integer labels of shape (N,), found %s %s"
                              % (label_file, labels.dtype, labels.shape))
    if len(labels) != len(images):
        raise DataFormatError("%s has %d labels but %s has %d images; expected equal counts"
                              % (label_file, len(labels), image_file, len(images)))
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataFormatError("%s: labels must lie in 0..%d, found %d..%d"
                              % (label_file, num_classes - 1, labels.min(), labels.max()))
    return labels.astype(np.int32)
