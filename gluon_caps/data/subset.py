"""A view of some samples of a data set."""
import numpy as np
from mxnet.gluon.data import Dataset

__all__ = ["Subset"]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self._dataset = dataset
        self._indices = np.asarray(indices, dtype=np.int64)

    def __len__(self):
        return len(self._indices)

    def __getitem__(self, index):
        return self._dataset[int(self._indices[index])]
