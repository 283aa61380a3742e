"""MultiMNIST (Sabour et al. 2017, section 6): two shifted digits of different classes overlaid."""
import numpy as np
from mxnet.gluon.data import Dataset

from ..errors import ConfigError
from .base import to_float
from ..errors import check_int
from .mnist import MNIST
from .transforms import place_image

__all__ = ["MultiMNIST"]


class MultiMNIST(Dataset):
    """Overlapping digit pairs generated on the fly, deterministically from ``(seed, index)``.

    Sample ``index`` takes base digit ``index // pairs_per_image`` and a second digit drawn
    uniformly from the base images of another class, places each 28x28 digit on a zero 36x36
    canvas at offset ``(max_shift + dy, max_shift + dx)`` with ``dx, dy`` uniform integers in
    ``[-max_shift, max_shift]`` drawn per digit, and overlays them with a pixel-wise maximum. Both
    digits come from the same MNIST split (test pairs from test images only). Nothing is
    materialised: the generator is ``numpy.random.default_rng([seed, index])``.

    Parameters
    ----------
    source : MNIST, str or None
        An MNIST data set (any split, e.g. ``"t10k-train"``), or a data root (``None``: the default
        root) from which ``MNIST(source, split)`` is read.
    split : str or None
        The MNIST split when ``source`` is a root (``None``: ``"train"``); with a data set, ``None``
        or that data set's split.
    pairs_per_image : int
        Samples per base image (1,000 in the paper).
    seed : int
        Seed of the generation.
    max_shift : int
        Largest shift of each digit in pixels (4 in the paper, giving a 28 + 2 * 4 = 36 canvas).

    Samples are ``(image, labels, digits)``:

    - image: float32 (1, S, S) in [0, 1], ``S = 28 + 2 * max_shift``;
    - labels: int32 (2,), two different classes;
    - digits: float32 (2, 1, S, S), each digit alone on its canvas (the reconstruction targets).
    """

    def __init__(self, source=None, split=None, pairs_per_image=1000, seed=0, max_shift=4):
        if isinstance(source, MNIST):
            if split not in (None, source.split):
                raise ConfigError("split=%r contradicts the given MNIST data set's split %r"
                                  % (split, source.split))
        else:
            source = MNIST(source, split or "train")
        self.mnist = source
        self.pairs_per_image = check_int("pairs_per_image", pairs_per_image, 1)
        self.seed = check_int("seed", seed, 0)
        self.max_shift = check_int("max_shift", max_shift, 0)
        self.canvas = source.images.shape[-1] + 2 * self.max_shift
        # base images sorted by class: class c occupies _by_class[_starts[c]:_starts[c + 1]]
        self._by_class = np.argsort(source.labels, kind="stable")
        self._starts = np.searchsorted(source.labels[self._by_class], np.arange(11))
        if np.count_nonzero(np.diff(self._starts)) < 2:
            raise ConfigError("MultiMNIST needs base images of at least two classes")

    def __len__(self):
        return len(self.mnist) * self.pairs_per_image

    def pair(self, index):
        """Return the draw behind sample ``index``.

        Returns
        -------
        bases : numpy.ndarray
            int64, shape (2,): indices of the two digits in :attr:`mnist`.
        shifts : numpy.ndarray
            int64, shape (2, 2): ``(dy, dx)`` of each digit, in ``[-max_shift, max_shift]``.
        """
        if not 0 <= index < len(self):
            raise IndexError("MultiMNIST index %d out of range 0..%d" % (index, len(self) - 1))
        rng = np.random.default_rng([self.seed, index])
        first = index // self.pairs_per_image
        label = self.mnist.labels[first]
        start, stop = self._starts[label], self._starts[label + 1]
        pick = int(rng.integers(len(self.mnist) - (stop - start)))  # among the other classes
        second = self._by_class[pick + (stop - start) if pick >= start else pick]
        shifts = rng.integers(-self.max_shift, self.max_shift + 1, size=(2, 2))
        return np.array([first, second]), shifts

    def __getitem__(self, index):
        bases, shifts = self.pair(index)
        digits = np.stack([place_image(self.mnist.images[base], self.canvas,
                                       self.max_shift + dy, self.max_shift + dx)
                           for base, (dy, dx) in zip(bases, shifts)])
        digits = to_float(digits[:, None])
        return digits.max(axis=0), self.mnist.labels[bases], digits
