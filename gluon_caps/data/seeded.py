"""Random augmentation whose every draw is a function of (seed, epoch, sample index)."""
import numpy as np
from mxnet.gluon.data import Dataset

from ..errors import check_int

__all__ = ["SeededTransform", "sample_key"]


def sample_key(key):
    """``(epoch, index)`` of a sample key: an ``(epoch, index)`` pair as
    :class:`~gluon_caps.data.EpochBatches` yields them, or a plain index (epoch 0)."""
    if isinstance(key, tuple):
        epoch, index = key
        return int(epoch), int(index)
    return 0, int(key)


class SeededTransform(Dataset):
    """A data set whose first element goes through a random transform drawing from
    ``numpy.random.default_rng([seed, epoch, index])``.

    So an epoch's augmentation is the same in every process that reads it: any Horovod rank, any
    DataLoader worker process, and a run resumed from a checkpoint, mid-epoch or not. The epoch
    travels in the sample key, not in the data set, because DataLoader workers hold copies of the
    data set made when they started.

    Parameters
    ----------
    dataset : mxnet.gluon.data.Dataset
        Samples ``(image, ...)``.
    transform : callable or None
        ``transform(image, rng) -> image``, e.g. :class:`~gluon_caps.data.RandomShift`; ``None``
        passes samples through unchanged (training without augmentation reads the same keys).
    seed : int
        The run's seed.

    Samples are read with a key ``(epoch, index)`` or a plain ``index`` (epoch 0); ``index``
    addresses ``dataset``.
    """

    def __init__(self, dataset, transform, seed):
        self.dataset = dataset
        self.transform = transform
        self.seed = check_int("seed", seed, 0)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, index = sample_key(key)
        sample = self.dataset[index]
        if self.transform is None:
            return sample
        rng = np.random.default_rng([self.seed, epoch, index])
        if isinstance(sample, tuple):
            return (self.transform(sample[0], rng),) + tuple(sample[1:])
        return self.transform(sample, rng)
