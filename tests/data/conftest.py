"""Fixtures writing small data files in the real formats: IDX, smallNORB matrices, affNIST .mat."""
import gzip
import os
import pathlib
import socket
import types

import numpy as np
import pytest

from gluon_caps.data.affnist import write_affnist_mat
from gluon_caps.data.binmat import encode_binary_matrix
from gluon_caps.data.idx import encode_idx

REPO = pathlib.Path(__file__).resolve().parents[2]
MNIST_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
NORB_PATTERN = {"train": "smallnorb-5x46789x9x18x6x2x96x96-training-%s.mat",
                "test": "smallnorb-5x01235x9x18x6x2x96x96-testing-%s.mat"}


def write(path, content, gz=True):
    """Write bytes to ``path`` (plus ``.gz``, gzip-compressed, when ``gz``); return that path."""
    path = pathlib.Path(str(path) + (".gz" if gz else ""))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


def fake_mnist(num, seed):
    """Random uint8 (num, 28, 28) digits with labels cycling through 0..9."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (num, 28, 28), dtype=np.uint8), np.arange(num, dtype=np.uint8) % 10


@pytest.fixture
def mnist_root(tmp_path):
    """A data root with small gzip MNIST files in ``<root>/mnist``: 50 train, 20 test digits.

    Returns ``(root, arrays)`` with ``arrays[split] = (images, labels)``.
    """
    arrays = {"train": fake_mnist(50, 1), "test": fake_mnist(20, 2)}
    for split, (image_name, label_name) in MNIST_NAMES.items():
        write(tmp_path / "mnist" / image_name, encode_idx(arrays[split][0]))
        write(tmp_path / "mnist" / label_name, encode_idx(arrays[split][1]))
    return tmp_path, arrays


@pytest.fixture
def norb_root(tmp_path):
    """A data root with 6 random smallNORB test pairs in ``<root>/smallnorb`` (uncompressed).

    Returns ``(root, images, labels, info)`` with images uint8 (6, 2, 96, 96).
    """
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (6, 2, 96, 96), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 0], np.int32)
    info = rng.integers(0, 9, (6, 4)).astype(np.int32)
    for part, array in (("dat", images), ("cat", labels), ("info", info)):
        write(tmp_path / "smallnorb" / (NORB_PATTERN["test"] % part), encode_binary_matrix(array),
              gz=False)
    return tmp_path, images, labels, info


def save_affnist(path, images, labels):
    """Write images (N, 40, 40) as an affNIST .mat file (creating its directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_affnist_mat(path, images, labels)


@pytest.fixture
def files():
    """The writers above for tests (pytest's --import-mode=importlib rules out conftest imports)."""
    return types.SimpleNamespace(idx=encode_idx, binmat=encode_binary_matrix, write=write,
                                 affnist=save_affnist, fake_mnist=fake_mnist,
                                 mnist_names=MNIST_NAMES, norb_pattern=NORB_PATTERN)


@pytest.fixture
def unreachable_url():
    """An http:// URL on a local port nobody listens on: connecting fails at once, offline."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return "http://127.0.0.1:%d/" % port


@pytest.fixture
def real_mnist_dir():
    """The folder of the real MNIST t10k files: ``<root>/mnist`` or ``<root>`` with ``<root>`` =
    ``$GLUON_CAPS_SHARED_DATA``, else ``<repo>/../shared/data``; skips when they are absent."""
    root = os.environ.get("GLUON_CAPS_SHARED_DATA") or str(REPO.parent / "shared" / "data")
    for folder in (os.path.join(root, "mnist"), root):
        if all(os.path.isfile(os.path.join(folder, name + ".gz")) for name in MNIST_NAMES["test"]):
            return folder
    pytest.skip("real MNIST t10k files not found in %s (set GLUON_CAPS_SHARED_DATA)" % root)
