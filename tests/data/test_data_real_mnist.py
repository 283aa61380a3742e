"""The real MNIST t10k files from the shared data folder (skipped when absent)."""
import os

import numpy as np
import pytest

from gluon_caps.data import MNIST, RandomShift, get_dataset_spec
from gluon_caps.errors import DataNotFoundError

OFFICIAL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_official_test_set(real_mnist_dir):
    data = MNIST(real_mnist_dir, "test")
    assert data.images.shape == (10000, 28, 28) and data.images.dtype == np.uint8
    assert np.bincount(data.labels, minlength=10).tolist() == OFFICIAL_TEST_COUNTS
    assert data.labels[0] == 7
    image, _ = data[0]
    assert image.min() == 0.0 and image.max() == 1.0


def test_t10k_split_default_sizes(real_mnist_dir):
    spec = get_dataset_spec("mnist-t10k")
    config = {"data_root": real_mnist_dir, "seed": 0, "download": False, "augment": True}
    train, shift = spec.train(config)
    val = spec.val(config)
    assert isinstance(shift, RandomShift) and spec.test(config).indices.tolist() == \
        val.indices.tolist()
    assert (len(train), len(val)) == (8000, 2000)
    assert len(np.union1d(train.indices, val.indices)) == 10000
    assert train.split == "t10k-train"


def test_folder_with_only_test_files(real_mnist_dir, tmp_path):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        os.symlink(os.path.join(real_mnist_dir, name), tmp_path / name)
    assert len(MNIST(str(tmp_path), "test")) == 10000
    for split in ("train", "val"):
        with pytest.raises(DataNotFoundError, match="'train-images-idx3-ubyte.gz' not found in"):
            MNIST(str(tmp_path), split)
