"""The in-memory image/label data set the readers build on."""
import numpy as np
from mxnet.gluon.data import Dataset

__all__ = ["ImageLabelDataset", "to_float"]


def to_float(image):
    """Convert a uint8 image to float32 in [0, 1], channel-first.

    Parameters
    ----------
    image : numpy.ndarray
        uint8, shape (H, W) or (C, H, W).

    Returns
    -------
    numpy.ndarray
        float32, shape (1, H, W) or (C, H, W).
    """
    if image.ndim == 2:
        image = image[None]
    return image.astype(np.float32) * np.float32(1.0 / 255.0)


class ImageLabelDataset(Dataset):
    """Images and labels held as compact arrays; each sample is converted when it is read.

    Parameters
    ----------
    images : numpy.ndarray
        uint8, shape (N, H, W) or (N, C, H, W); kept as :attr:`images`.
    labels : numpy.ndarray
        int32, shape (N,); kept as :attr:`labels`.

    Samples are ``(image, label)``: image float32 in [0, 1] of shape (C, H, W) (C = 1 for (N, H, W)
    images), label an ``int32`` scalar.
    """

    def __init__(self, images, labels):
        self.images = images
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        return to_float(self.images[idx]), self.labels[idx]
