"""The paper's smallNORB preprocessing of a 48x48 stereo pair: crop, jitter, standardise."""
import numpy as np

from ..errors import check_int
from .transforms import RandomTransform

__all__ = ["standardize", "center_crop", "SmallNORBTrainTransform", "SmallNORBTestTransform"]


def standardize(image):
    """Per-image standardisation: zero mean, unit standard deviation over pixels and channels.

    The standard deviation is floored at ``1 / sqrt(image.size)`` (as TensorFlow's
    ``per_image_standardization``) so a flat image gives zeros instead of a division by zero.

    Parameters
    ----------
    image : numpy.ndarray
        float, shape (C, H, W).

    Returns
    -------
    numpy.ndarray
        float32, shape (C, H, W).
    """
    image = image.astype(np.float32)
    scale = max(float(image.std()), 1.0 / np.sqrt(image.size))
    return (image - image.mean()) / np.float32(scale)


def center_crop(image, size):
    """Return the central ``size`` x ``size`` patch of a (C, H, W) image; top ``(H - size)//2``."""
    top = (image.shape[-2] - size) // 2
    left = (image.shape[-1] - size) // 2
    return image[..., top:top + size, left:left + size]


class SmallNORBTestTransform:
    """The paper's smallNORB test preprocessing: central patch, then :func:`standardize`.

    Parameters
    ----------
    size : int
        Side of the patch (32 in the paper).

    Inputs: float image (C, H, W) in [0, 1] with H, W >= size. Output: float32 (C, size, size).
    """

    def __init__(self, size=32):
        self.size = check_int("size", size, 1)

    def __call__(self, image):
        return standardize(center_crop(image, self.size))


class SmallNORBTrainTransform(RandomTransform):
    """The paper's smallNORB training augmentation: random crop, brightness, contrast, standardise.

    Following the authors' released input pipeline: a random ``size`` x ``size`` crop, a brightness
    offset uniform in ``[-max_brightness, max_brightness]``, a contrast factor uniform in
    ``contrast`` (``(x - mean) * factor + mean``, mean per channel), then :func:`standardize`.
    Both stereo channels get the same crop and jitter. The image is clipped to [0, 1] after each
    photometric step; without clipping, standardisation would cancel both steps exactly.

    Parameters
    ----------
    size : int
        Side of the crop.
    max_brightness : float
        Largest brightness offset, on the [0, 1] scale (63/255 as in the authors' code).
    contrast : tuple of float
        ``(lower, upper)`` range of the contrast factor.
    seed : int or None
        See :class:`~gluon_caps.data.transforms.RandomTransform`.

    Inputs: float image (C, H, W) in [0, 1] with H, W >= size. Output: float32 (C, size, size).
    """

    def __init__(self, size=32, max_brightness=63.0 / 255.0, contrast=(0.2, 1.8), seed=None):
        super().__init__(seed)
        self.size = check_int("size", size, 1)
        self.max_brightness = float(max_brightness)
        self.contrast = (float(contrast[0]), float(contrast[1]))

    def __call__(self, image, rng=None):
        rng = self.generator(rng)
        top = int(rng.integers(0, image.shape[-2] - self.size + 1))
        left = int(rng.integers(0, image.shape[-1] - self.size + 1))
        crop = image[..., top:top + self.size, left:left + self.size]
        crop = np.clip(crop + rng.uniform(-self.max_brightness, self.max_brightness), 0.0, 1.0)
        mean = crop.mean(axis=(-2, -1), keepdims=True)
        crop = np.clip((crop - mean) * rng.uniform(*self.contrast) + mean, 0.0, 1.0)
        return standardize(crop)
