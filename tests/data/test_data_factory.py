"""get_dataset: data sets by name."""
import pytest

from gluon_caps.data import AffNIST, MNIST, MultiMNIST, SmallNORB, get_dataset
from gluon_caps.errors import ConfigError


def test_names_build_their_data_sets(mnist_root, norb_root, tmp_path, files):
    root = str(mnist_root[0])
    mnist = get_dataset("mnist", root, "val", val_size=10)
    assert isinstance(mnist, MNIST) and len(mnist) == 10
    t10k = get_dataset("mnist-t10k", root, "val", val_size=4)
    assert t10k.split == "t10k-val" and len(t10k) == 4
    multi = get_dataset("multimnist", root, "test", pairs_per_image=2)
    assert isinstance(multi, MultiMNIST) and len(multi) == 40
    assert isinstance(get_dataset("smallnorb", str(norb_root[0]), "test"), SmallNORB)
    images, labels = mnist_root[1]["test"]
    big = images[:, :20, :20].repeat(2, axis=1).repeat(2, axis=2)  # 40x40
    files.affnist(tmp_path / "affnist" / "test.mat", big, labels)
    affnist = get_dataset("affnist", str(tmp_path))  # default split: test
    assert isinstance(affnist, AffNIST) and affnist.split == "test" and len(affnist) == 20


def test_unknown_name_lists_the_valid_ones():
    valid = "mnist, mnist-t10k, multimnist, smallnorb, affnist"
    with pytest.raises(ConfigError, match="unknown dataset 'cifar10'; valid names: " + valid):
        get_dataset("cifar10")


def test_t10k_has_no_test_split(mnist_root):
    with pytest.raises(ConfigError, match="split"):
        get_dataset("mnist-t10k", str(mnist_root[0]), "test")
