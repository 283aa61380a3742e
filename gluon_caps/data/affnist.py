"""affNIST (Tieleman 2013): MNIST digits under random affine maps on 40x40, in .mat files."""
import glob
import os
import re
import zlib

import numpy as np
import scipy.io

from ..errors import DataFormatError, DataNotFoundError
from .base import ImageLabelDataset
from .checks import check_choice, check_pairs
from .root import candidate_dirs, missing_message

__all__ = ["AffNIST", "AFFNIST_SPLITS", "affnist_files", "read_affnist_mat",
           "write_affnist_mat"]

AFFNIST_SPLITS = ("test", "training", "validation", "training_and_validation")
SIDE = 40


def read_affnist_mat(path):
    """Read one affNIST ``.mat`` file (a struct ``affNISTdata`` with ``image`` and ``label_int``).

    ``image`` is uint8 (1600, N): one column per image. Each column is reshaped in row-major (C)
    order, ``column[40 * row + col]``, which puts the digit upright (as the Python loaders of the
    published files do); MATLAB's own column-major ``reshape(column, 40, 40)`` gives the transpose.

    Parameters
    ----------
    path : str
        A MATLAB (v5) file as published, e.g. ``test.mat`` or ``test_batches/1.mat``.

    Returns
    -------
    images : numpy.ndarray
        uint8, shape (N, 40, 40).
    labels : numpy.ndarray
        int32, shape (N,), in 0..9.

    Raises
    ------
    DataFormatError
        When the file is not a readable MAT file or does not hold affNIST data of matching sizes.
    """
    try:
        record = scipy.io.loadmat(path)["affNISTdata"][0, 0]
        image, labels = record["image"], record["label_int"]
    except (scipy.io.matlab.MatReadError, OSError, EOFError, zlib.error, ValueError, TypeError,
            KeyError, IndexError) as err:
        raise DataFormatError("%s: expected a MAT file with a struct affNISTdata holding fields "
                              "image and label_int (%s: %s)" % (path, type(err).__name__, err)) \
            from err
    if image.ndim != 2 or image.shape[0] != SIDE * SIDE:
        raise DataFormatError("%s: affNISTdata.image has shape %s, expected (1600, N)"
                              % (path, image.shape))
    if labels.ndim == 2 and 1 in labels.shape:
        labels = labels.reshape(-1)
    images = image.T.reshape(-1, SIDE, SIDE)
    return images, check_pairs(images, labels, (SIDE, SIDE), 10, path, path)


def write_affnist_mat(path, images, labels):
    """Write images (N, 40, 40), uint8 in the published files, and labels (N,) as an affNIST
    ``.mat`` file in the layout :func:`read_affnist_mat` reads (one row-major 1600-value column
    per image). The arrays are stored as given, so tests can write bad files too."""
    record = {"image": np.asarray(images).reshape(len(images), -1).T,
              "label_int": np.asarray(labels)}
    scipy.io.savemat(str(path), {"affNISTdata": record})
    return path


def _batch_number(path):
    digits = re.findall(r"\d+", os.path.basename(path))
    return (int(digits[-1]) if digits else -1, path)


def affnist_files(root, split):
    """Return the ``.mat`` files of an affNIST split, in order.

    Parameters
    ----------
    root : str or None
        A ``.mat`` file (returned alone), or a data root whose ``affnist/`` folder or itself holds
        ``<split>.mat`` or ``<split>_batches/<k>.mat`` (batches sorted by ``k``).
    split : str
        One of :data:`AFFNIST_SPLITS`.

    Raises
    ------
    DataNotFoundError
        When neither ``<split>.mat`` nor ``<split>_batches/*.mat`` exists in the directories.
    """
    if root is not None and os.path.isfile(os.path.expanduser(str(root))):
        return [os.path.expanduser(str(root))]
    dirs = candidate_dirs(root, "affnist")
    for directory in dirs:
        whole = os.path.join(directory, split + ".mat")
        if os.path.isfile(whole):
            return [whole]
        batches = glob.glob(os.path.join(directory, split + "_batches", "*.mat"))
        if batches:
            return sorted(batches, key=_batch_number)
    raise DataNotFoundError("%s (nor any %s_batches/*.mat)"
                            % (missing_message(split + ".mat", dirs, "affNIST"), split))


class AffNIST(ImageLabelDataset):
    """affNIST, the paper's robustness test set (section 5.2): affine-transformed MNIST digits.

    Parameters
    ----------
    root : str or None
        A ``.mat`` file, or a directory searched as :func:`affnist_files` says; ``None`` means
        ``$GLUON_CAPS_DATA``, else ``~/.mxnet/datasets``.
    split : str
        One of ``"test"``, ``"training"``, ``"validation"``, ``"training_and_validation"``
        (ignored when ``root`` is a file).

    Attributes
    ----------
    images : numpy.ndarray
        uint8, shape (N, 40, 40).
    labels : numpy.ndarray
        int32, shape (N,).

    Samples are ``(image, label)``: float32 (1, 40, 40) in [0, 1] and an int32 scalar. Train the
    matching model on MNIST with :class:`~gluon_caps.data.transforms.RandomPlacement` (40x40).
    """

    def __init__(self, root=None, split="test"):
        files = affnist_files(root, check_choice("split", split, AFFNIST_SPLITS))
        parts = [read_affnist_mat(path) for path in files]
        super().__init__(np.concatenate([images for images, _ in parts]),
                         np.concatenate([labels for _, labels in parts]))
        self.split = split
        self.files = files
