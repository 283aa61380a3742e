"""MNIST on small IDX files written here: splits, lookup, downloads (offline), bad input."""
import os

import numpy as np
import pytest
from mxnet.gluon.data import DataLoader

from gluon_caps.data import MNIST, download as download_module, mnist as mnist_module
from gluon_caps.data.root import DEFAULT_ROOT, ENV_VAR, data_root
from gluon_caps.errors import ConfigError, DataFormatError, DataNotFoundError


def test_test_split_samples(mnist_root):
    root, arrays = mnist_root
    data = MNIST(str(root), split="test")
    images, labels = arrays["test"]
    assert len(data) == 20 and data.images.dtype == np.uint8 and data.labels.dtype == np.int32
    np.testing.assert_array_equal(data.images, images)
    image, label = data[3]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    np.testing.assert_allclose(image[0], images[3] / 255.0, rtol=1e-6)
    assert label == labels[3] and label.dtype == np.int32


def test_train_val_are_a_seeded_disjoint_partition(mnist_root):
    root, arrays = mnist_root
    train = MNIST(str(root), "train", val_size=10)
    val = MNIST(str(root), "val", val_size=10)
    assert (len(train), len(val)) == (40, 10)
    assert not set(train.indices) & set(val.indices)
    assert sorted(set(train.indices) | set(val.indices)) == list(range(50))
    np.testing.assert_array_equal(val.images, arrays["train"][0][val.indices])
    np.testing.assert_array_equal(val.labels, arrays["train"][1][val.indices])
    np.testing.assert_array_equal(MNIST(str(root), "val", val_size=10).indices, val.indices)
    other = MNIST(str(root), "val", val_size=10, seed=1).indices
    assert not np.array_equal(other, val.indices)
    assert len(MNIST(str(root), "train", val_size=0)) == 50


def test_t10k_split_partitions_the_test_files_only(mnist_root):
    root, _ = mnist_root
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        os.remove(root / "mnist" / name)
    train = MNIST(str(root), "t10k-train", val_size=5)
    val = MNIST(str(root), "t10k-val", val_size=5)
    assert (len(train), len(val)) == (15, 5)
    assert sorted(np.concatenate([train.indices, val.indices])) == list(range(20))
    with pytest.raises(DataNotFoundError, match="train-images-idx3-ubyte.gz"):
        MNIST(str(root), "train")


@pytest.mark.parametrize("split, val_size, name", [
    ("val", 0, "val_size"), ("train", 50, "val_size"), ("train", 2.5, "val_size"),
    ("valid", None, "split"),
])
def test_bad_arguments(mnist_root, split, val_size, name):
    with pytest.raises(ConfigError, match=name):
        MNIST(str(mnist_root[0]), split, val_size=val_size)


def test_files_directly_in_root_and_uncompressed(tmp_path, files):
    images, labels = files.fake_mnist(12, 5)
    image_name, label_name = files.mnist_names["test"]
    files.write(tmp_path / image_name, files.idx(images), gz=False)
    files.write(tmp_path / label_name, files.idx(labels), gz=False)
    data = MNIST(str(tmp_path), "test")
    np.testing.assert_array_equal(data.labels, labels)
    assert data.files == (str(tmp_path / image_name), str(tmp_path / label_name))


def test_root_resolution(monkeypatch, mnist_root, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(mnist_root[0]))
    assert len(MNIST(split="test")) == 20
    assert data_root("~/x") == os.path.join(os.path.expanduser("~"), "x")
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_root() == str(tmp_path / "home" / ".mxnet" / "datasets")
    assert DEFAULT_ROOT.startswith("~")


def test_missing_file_message(tmp_path):
    with pytest.raises(DataNotFoundError) as info:
        MNIST(str(tmp_path), "test")
    message = str(info.value)
    for part in ("t10k-images-idx3-ubyte.gz", str(tmp_path / "mnist"), ENV_VAR, "download=True"):
        assert part in message


def test_offline_download_fails_clearly(monkeypatch, tmp_path, unreachable_url):
    monkeypatch.setattr(mnist_module, "MNIST_MIRRORS", [unreachable_url])
    with pytest.raises(DataNotFoundError) as info:
        MNIST(str(tmp_path), "test", download=True)
    message = str(info.value)
    for part in ("t10k-images-idx3-ubyte.gz", str(tmp_path / "mnist"), ENV_VAR, unreachable_url):
        assert part in message
    assert os.listdir(tmp_path / "mnist") == []  # no partial file left behind


def test_download_tries_every_mirror_in_order(monkeypatch, tmp_path):
    tried = []

    def offline(url, stream):
        tried.append(url)
        raise OSError("network is unreachable")

    monkeypatch.setattr(download_module, "fetch", offline)
    with pytest.raises(DataNotFoundError, match="network is unreachable"):
        MNIST(str(tmp_path), "test", download=True)
    assert tried == [mirror + "t10k-images-idx3-ubyte.gz" for mirror in mnist_module.MNIST_MIRRORS]
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in mnist_module.MNIST_MIRRORS


def test_download_from_a_local_mirror(monkeypatch, mnist_root, tmp_path):
    mirror = mnist_root[0] / "mnist"
    md5 = {name: download_module.md5sum(str(mirror / name)) for name in os.listdir(mirror)}
    monkeypatch.setattr(mnist_module, "MNIST_MIRRORS", [mirror.as_uri() + "/"])
    monkeypatch.setattr(mnist_module, "MNIST_MD5", md5)
    data = MNIST(str(tmp_path / "fresh"), "test", download=True)
    np.testing.assert_array_equal(data.images, mnist_root[1]["test"][0])
    assert sorted(os.listdir(tmp_path / "fresh" / "mnist")) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def _replace(root, files, split, which, array):
    names = files.mnist_names[split]
    files.write(root / "mnist" / names[which], files.idx(array))
    return names[which]


@pytest.mark.parametrize("which, array, words", [
    (0, np.zeros((20, 27, 28), np.uint8), r"expected uint8 images of shape \(N, 28, 28\)"),
    (0, np.zeros((20, 784), np.uint8), "IDX file has 2 dims"),
    (1, np.zeros(19, np.uint8), "19 labels but .* 20 images"),
    (1, np.full(20, 10, np.uint8), r"labels must lie in 0\.\.9"),
    (1, np.zeros((20, 1), np.uint8), "IDX file has 2 dims"),
], ids=["image-size", "image-dims", "count", "label-range", "label-dims"])
def test_bad_mnist_files(mnist_root, files, which, array, words):
    root, _ = mnist_root
    name = _replace(root, files, "test", which, array)
    with pytest.raises(DataFormatError, match=words) as info:
        MNIST(str(root), "test")
    assert name in str(info.value)


def test_truncated_gzip_names_the_file(mnist_root):
    root, _ = mnist_root
    path = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataFormatError, match="labels-idx1-ubyte.gz: truncated or corrupt gzip"):
        MNIST(str(root), "test")


def test_dataloader_with_workers(mnist_root):
    data = MNIST(str(mnist_root[0]), "test").transform_first(lambda image: image * 2)
    batches = list(DataLoader(data, batch_size=8, num_workers=2))
    assert [b[0].shape for b in batches] == [(8, 1, 28, 28), (8, 1, 28, 28), (4, 1, 28, 28)]
    labels = np.concatenate([b[1].asnumpy() for b in batches])
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, mnist_root[1]["test"][1])
    assert float(batches[0][0].max().asscalar()) > 1.0  # the transform ran
