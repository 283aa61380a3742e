"""Random image transforms that run in DataLoader workers, and their pure geometric cores."""
import os

import numpy as np

from ..errors import ConfigError
from ..errors import check_int

__all__ = ["RandomTransform", "shift_image", "place_image", "RandomShift", "RandomPlacement"]


def shift_image(image, dx, dy):
    """Move an image by whole pixels, filling the uncovered border with zeros.

    Parameters
    ----------
    image : numpy.ndarray
        Shape (..., H, W), e.g. (C, H, W).
    dx, dy : int
        Offsets to the right (columns) and down (rows); negative moves left / up.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype: ``out[..., r + dy, c + dx] = image[..., r, c]`` where both are inside.
    """
    height, width = image.shape[-2:]
    out = np.zeros_like(image)
    if abs(dx) < width and abs(dy) < height:
        out[..., max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
            image[..., max(-dy, 0):height - max(dy, 0), max(-dx, 0):width - max(dx, 0)]
    return out


def place_image(image, canvas, top, left):
    """Paste an image onto a zero square canvas.

    Parameters
    ----------
    image : numpy.ndarray
        Shape (..., h, w).
    canvas : int
        Side of the canvas, at least ``max(top + h, left + w)``.
    top, left : int
        Row and column of the image's top-left pixel on the canvas (non-negative).

    Returns
    -------
    numpy.ndarray
        Shape (..., canvas, canvas), the dtype of ``image``.
    """
    height, width = image.shape[-2:]
    out = np.zeros(image.shape[:-2] + (canvas, canvas), dtype=image.dtype)
    out[..., top:top + height, left:left + width] = image
    return out


class RandomTransform:
    """Base of the random transforms: called as ``transform(image, rng=None)``, they draw from
    ``rng`` when given, else from a numpy Generator of their own that is fresh in every process.

    Training passes ``rng`` (see :class:`~gluon_caps.data.SeededTransform`), so its draws depend on
    the seed, the epoch and the sample index alone. Without it, a DataLoader with
    ``num_workers > 0`` forks its workers after the transform was made (and maybe used), so a
    generator created once would give every worker the same draws; the own generator is therefore
    (re)created on first use in each process: in the process that built the transform from
    ``seed`` alone (reproducible), in any other process from ``(seed, pid)`` (distinct per worker).

    Parameters
    ----------
    seed : int or None
        ``None`` seeds every process from fresh OS entropy.
    """

    def __init__(self, seed=None):
        self.seed = seed
        self._home_pid = os.getpid()
        self._pid = None
        self._rng = None

    @property
    def rng(self):
        """numpy.random.Generator: this process's generator."""
        pid = os.getpid()
        if self._pid != pid:
            if self.seed is None:
                self._rng = np.random.default_rng()
            elif pid == self._home_pid:
                self._rng = np.random.default_rng(self.seed)
            else:
                self._rng = np.random.default_rng([self.seed, pid])
            self._pid = pid
        return self._rng

    def generator(self, rng=None):
        """The generator of one call: ``rng`` when the caller passes one (as
        :class:`~gluon_caps.data.SeededTransform` does, from seed, epoch and sample index), else
        :attr:`rng`."""
        return self.rng if rng is None else rng


class RandomShift(RandomTransform):
    """The paper's MNIST augmentation: shift by up to ``max_shift`` pixels in each direction.

    ``dx`` and ``dy`` are drawn independently and uniformly from the integers
    ``[-max_shift, max_shift]``; the uncovered border is zero (see :func:`shift_image`).

    Parameters
    ----------
    max_shift : int
        Largest shift in pixels (2 in the paper).
    seed : int or None
        See :class:`RandomTransform`.

    Inputs: image (C, H, W) (or (H, W)) numpy array. Output: the same shape and dtype.
    """

    def __init__(self, max_shift=2, seed=None):
        super().__init__(seed)
        self.max_shift = check_int("max_shift", max_shift, 0)

    def __call__(self, image, rng=None):
        dx, dy = self.generator(rng).integers(-self.max_shift, self.max_shift + 1, size=2)
        return shift_image(image, int(dx), int(dy))


class RandomPlacement(RandomTransform):
    """The affNIST training augmentation: the digit at a uniformly random place on a zero canvas.

    Parameters
    ----------
    canvas : int
        Side of the square canvas (40 for affNIST).
    seed : int or None
        See :class:`RandomTransform`.

    Inputs: image (C, h, w) numpy array, e.g. an MNIST (1, 28, 28) digit. Output: (C, canvas,
    canvas), the image's dtype, the image at a top-left corner drawn uniformly from
    ``0..canvas - h`` by ``0..canvas - w``.
    """

    def __init__(self, canvas=40, seed=None):
        super().__init__(seed)
        self.canvas = check_int("canvas", canvas, 1)

    def __call__(self, image, rng=None):
        height, width = image.shape[-2:]
        if height > self.canvas or width > self.canvas:
            raise ConfigError("canvas=%d is smaller than the %dx%d image"
                              % (self.canvas, height, width))
        rng = self.generator(rng)
        top = int(rng.integers(0, self.canvas - height + 1))
        left = int(rng.integers(0, self.canvas - width + 1))
        return place_image(image, self.canvas, top, left)
