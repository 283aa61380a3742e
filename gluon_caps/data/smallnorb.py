"""smallNORB (LeCun et al. 2004): stereo 96x96 toy images of 5 categories, downsampled to 48x48."""
import numpy as np

from ..errors import DataFormatError
from .base import ImageLabelDataset
from .binmat import read_binary_matrix
from .checks import check_choice, check_pairs
from .norb_transforms import SmallNORBTestTransform, SmallNORBTrainTransform
from .root import candidate_dirs, find_file

__all__ = ["SmallNORB", "SMALLNORB_FILES", "area_downsample"]

SMALLNORB_FILES = {
    "train": "smallnorb-5x46789x9x18x6x2x96x96-training-%s.mat",
    "test": "smallnorb-5x01235x9x18x6x2x96x96-testing-%s.mat",
}
_CHUNK = 1024  # images downsampled at a time, to bound the temporary memory


def area_downsample(images, factor=2):
    """Shrink images by averaging ``factor`` x ``factor`` blocks (area interpolation), rounding.

    Parameters
    ----------
    images : numpy.ndarray
        uint8, shape (N, C, H, W) with H and W divisible by ``factor``.
    factor : int
        The shrink factor.

    Returns
    -------
    numpy.ndarray
        uint8, shape (N, C, H // factor, W // factor).
    """
    num, channels, height, width = images.shape
    shape = (channels, height // factor, factor, width // factor, factor)
    out = np.empty((num, channels, height // factor, width // factor), dtype=np.uint8)
    half = factor * factor // 2
    for start in range(0, num, _CHUNK):
        block = images[start:start + _CHUNK]
        sums = block.reshape((len(block),) + shape).sum(axis=(3, 5), dtype=np.uint32)
        out[start:start + _CHUNK] = (sums + half) // (factor * factor)
    return out


class SmallNORB(ImageLabelDataset):
    """smallNORB with the paper's preprocessing (Sabour et al. 2017, section 7).

    The files ``smallnorb-5x46789x9x18x6x2x96x96-training-{dat,cat,info}.mat`` and
    ``smallnorb-5x01235x9x18x6x2x96x96-testing-{dat,cat,info}.mat`` (or the same names plus ``.gz``)
    are looked up in ``<root>/smallnorb/`` first, then in ``<root>``. The 96x96 stereo pairs are
    downsampled once, at load, to 48x48 (2x2 area average) and kept as uint8.

    Parameters
    ----------
    root : str or None
        Data root; ``None`` means ``$GLUON_CAPS_DATA``, else ``~/.mxnet/datasets``.
    split : str
        ``"train"`` (24,300 pairs of instances 4, 6, 7, 8, 9) or ``"test"`` (24,300 pairs of
        instances 0, 1, 2, 3, 5).
    transform : callable or None
        Applied to each float32 (2, 48, 48) image in [0, 1]; ``None`` means the paper's:
        :class:`SmallNORBTrainTransform` (random 32x32 crop, brightness, contrast, standardise) for
        ``"train"``, :class:`SmallNORBTestTransform` (central 32x32, standardise) for ``"test"``.

    Attributes
    ----------
    images : numpy.ndarray
        uint8, shape (N, 2, 48, 48): both cameras as channels.
    labels : numpy.ndarray
        int32, shape (N,): category 0..4 (animal, human, airplane, truck, car).
    info : numpy.ndarray
        int32, shape (N, 4): instance, elevation, azimuth, lighting.

    Samples are ``(image, label)``: float32 (2, 32, 32) with the default transforms, int32 scalar.

    Raises
    ------
    DataNotFoundError
        A file is missing; the message names it, the directories searched and ``$GLUON_CAPS_DATA``.
    DataFormatError
        A file is corrupt or the three files do not belong together; the message names the file.
    """

    def __init__(self, root=None, split="train", transform=None):
        pattern = SMALLNORB_FILES[check_choice("split", split, list(SMALLNORB_FILES))]
        dirs = candidate_dirs(root, "smallnorb")
        dat, cat, info = (find_file([pattern % part, pattern % part + ".gz"], dirs, "smallNORB")
                          for part in ("dat", "cat", "info"))
        images = read_binary_matrix(dat)
        labels = check_pairs(images, read_binary_matrix(cat), (2, 96, 96), 5, dat, cat)
        self.info = read_binary_matrix(info)
        if self.info.dtype != np.int32 or self.info.shape != (len(labels), 4):
            raise DataFormatError("%s: expected int32 info of shape (%d, 4), found %s %s"
                                  % (info, len(labels), self.info.dtype, self.info.shape))
        super().__init__(area_downsample(images), labels)
        self.split = split
        if transform is None:
            transform = SmallNORBTrainTransform() if split == "train" else SmallNORBTestTransform()
        self.transform = transform

    def __getitem__(self, idx):
        image, label = super().__getitem__(idx)
        return self.transform(image), label
