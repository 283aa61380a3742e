"""MNIST from the official IDX files, with a seeded validation hold-out and the t10k check split."""
import numpy as np

from ..errors import DataNotFoundError
from .base import ImageLabelDataset
from ..errors import check_int
from .checks import check_choice, check_pairs
from .download import download as download_file
from .idx import read_idx
from .root import candidate_dirs, find_file, missing_message

__all__ = ["MNIST", "MNIST_FILES", "MNIST_MD5", "MNIST_MIRRORS", "SPLITS", "holdout_split"]

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_MIRRORS = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "http://yann.lecun.com/exdb/mnist/"]

# split -> (file set, part of the hold-out partition: "rest", "held", or None for all of it)
SPLITS = {
    "train": ("train", "rest"),
    "val": ("train", "held"),
    "test": ("test", None),
    "t10k-train": ("test", "rest"),
    "t10k-val": ("test", "held"),
}
DEFAULT_VAL_SIZE = {"train": 5000, "test": 2000}


def holdout_split(num, val_size, seed):
    """Partition ``range(num)`` into a seeded random hold-out of ``val_size`` and the rest.

    Parameters
    ----------
    num : int
        The number of samples.
    val_size : int
        The hold-out size, ``0 <= val_size <= num``.
    seed : int
        Seed of the permutation; the same seed always gives the same partition.

    Returns
    -------
    rest, held : numpy.ndarray
        int64, shapes (num - val_size,) and (val_size,), each sorted ascending, disjoint.
    """
    perm = np.random.default_rng(seed).permutation(num)
    return np.sort(perm[val_size:]), np.sort(perm[:val_size])


def _locate(name, dirs, download):
    """Return the path of MNIST file ``name`` (or its uncompressed twin), downloading if allowed."""
    try:
        return find_file([name, name[:-len(".gz")]], dirs, "MNIST")
    except DataNotFoundError as missing:
        if not download:
            raise DataNotFoundError("%s; download=True fetches it" % missing) from None
        try:
            return download_file(name, dirs[0], MNIST_MIRRORS, MNIST_MD5[name])
        except DataNotFoundError as failed:
            raise DataNotFoundError("%s; %s" % (missing_message(name, dirs, "MNIST"), failed)) \
                from failed


class MNIST(ImageLabelDataset):
    """The MNIST handwritten digits (LeCun et al.), read from the official IDX files.

    Files are looked up in ``<root>/mnist/`` first, then directly in ``<root>``, as
    ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
    ``t10k-labels-idx1-ubyte.gz`` or their uncompressed versions (same names without ``.gz``).
    Only the files of the requested split are read, so a directory holding just the ``t10k`` files
    serves ``"test"``, ``"t10k-train"`` and ``"t10k-val"``.

    Parameters
    ----------
    root : str or None
        Data root; ``None`` means ``$GLUON_CAPS_DATA``, else ``~/.mxnet/datasets``.
    split : str
        ``"train"``: the 60,000 training images less the hold-out; ``"val"``: the hold-out, a seeded
        random ``val_size`` of the training images; ``"test"``: the 10,000 test images.
        ``"t10k-train"`` / ``"t10k-val"``: a seeded 8,000 / 2,000 partition of the *test* images,
        the "mnist-t10k split" for pipeline checks on machines that only have the test files. It is
        not the MNIST training set; numbers measured on it are not comparable to the paper's.
    val_size : int or None
        Size of the hold-out; ``None`` means 5,000 for ``train``/``val`` and 2,000 for the t10k
        splits. ``0`` makes ``"train"`` (or ``"t10k-train"``) the whole file. Ignored for
        ``"test"``.
    seed : int
        Seed of the hold-out partition. Ignored for ``"test"``.
    download : bool
        Fetch missing files (md5-checked) from :data:`MNIST_MIRRORS` into ``<root>/mnist/``.

    Attributes
    ----------
    images : numpy.ndarray
        uint8, shape (N, 28, 28).
    labels : numpy.ndarray
        int32, shape (N,), in 0..9.
    indices : numpy.ndarray
        int64, shape (N,): position of each sample in its IDX file.

    Samples are ``(image, label)``: float32 (1, 28, 28) in [0, 1] and an int32 scalar.

    Raises
    ------
    DataNotFoundError
        A file is missing (and could not be downloaded); the message names it.
    DataFormatError
        A file is corrupt or does not hold MNIST data; the message names it.
    ConfigError
        An invalid ``split`` or ``val_size``.
    """

    def __init__(self, root=None, split="train", val_size=None, seed=0, download=False):
        files, part = SPLITS[check_choice("split", split, list(SPLITS))]
        dirs = candidate_dirs(root, "mnist")
        image_file, label_file = (_locate(name, dirs, download) for name in MNIST_FILES[files])
        images = read_idx(image_file, 3)
        labels = check_pairs(images, read_idx(label_file, 1), (28, 28), 10, image_file, label_file)
        indices = np.arange(len(labels))
        if part is not None:
            val_size = DEFAULT_VAL_SIZE[files] if val_size is None else val_size
            val_size = check_int("val_size", val_size, int(part == "held"), len(labels) - 1)
            rest, held = holdout_split(len(labels), val_size, seed)
            indices = held if part == "held" else rest
            images, labels = images[indices], labels[indices]
        super().__init__(images, labels)
        self.split = split
        self.indices = indices
        self.files = (image_file, label_file)
