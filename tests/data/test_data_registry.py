"""The data-set registry: every name known once, with its classes, shapes and splits."""
import mxnet as mx
import numpy as np
import pytest

from gluon_caps.data import (DATASET_NAMES, EVAL_DATASETS, build_splits, class_names,
                             eval_split, get_dataset_spec, prepare_batch)
from gluon_caps.errors import ConfigError
from gluon_caps.model_zoo import get_model
from gluon_caps.training import resolve_config


@pytest.mark.parametrize("name, model", [("mnist", "capsnet_mnist"),
                                         ("mnist-t10k", "capsnet_mnist"),
                                         ("multimnist", "capsnet_multimnist"),
                                         ("smallnorb", "capsnet_smallnorb")])
def test_each_data_set_fits_the_model_of_its_experiment(name, model):
    spec = get_dataset_spec(name)
    net = get_model(model)
    assert spec.input_shape == net.input_shape
    assert len(spec.class_names) == net.num_classes
    assert spec.preprocessing(spec.input_shape)["resize"] == list(spec.input_shape[1:])


def test_names_and_lookups():
    assert DATASET_NAMES == ("mnist", "mnist-t10k", "multimnist", "smallnorb", "affnist")
    assert "mnist-val" in EVAL_DATASETS and "smallnorb" in EVAL_DATASETS
    assert get_dataset_spec("multimnist").labels_per_image == 2
    assert class_names("smallnorb", 5)[0] == "animal" and class_names("smallnorb", 3) == \
        ["0", "1", "2"]
    with pytest.raises(ConfigError, match="unknown dataset 'cifar'; valid names: mnist"):
        get_dataset_spec("cifar")
    with pytest.raises(ConfigError, match="unknown dataset 'mnist-test'; valid names: "):
        eval_split("mnist-test", {})


def test_splits_of_a_run(mnist_root):
    root, arrays = mnist_root
    config = resolve_config(None, {"data_root": str(root), "val_size": 10, "seed": 1})
    train, val, test = build_splits(config)
    assert (len(train), len(val), len(test)) == (40, 10, 20)
    assert not set(train.dataset.indices) & set(val.indices)
    _, held = eval_split("mnist-val", config)
    assert held.indices.tolist() == val.indices.tolist()
    assert eval_split("mnist", config)[1].split == "test"
    with pytest.raises(ConfigError, match="holds out no validation images"):
        eval_split("mnist-val", dict(config, val_size=0))


def test_two_digit_batches_target_both_classes_and_reconstruct_each():
    composite = mx.nd.zeros((2, 1, 36, 36))
    labels = mx.nd.array([[3, 7], [0, 1]], dtype="int32")
    digits = mx.nd.ones((2, 2, 1, 36, 36))
    x, target, mask, recon_target, got_labels = prepare_batch((composite, labels, digits), 10,
                                                              mx.cpu())
    np.testing.assert_array_equal(target.asnumpy()[0].nonzero()[0], [3, 7])
    assert mask.shape == (2, 2, 10) and mask.asnumpy()[1, 1, 1] == 1
    assert recon_target.shape == (2, 2, 1, 36, 36)
