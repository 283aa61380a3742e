"""The evaluation sets of a checkpoint, fitted to the model's input."""
import types

import pytest

from gluon_caps.errors import ConfigError
from gluon_caps.inference import Checkpoint, eval_data


def fake_checkpoint(input_shape, **config):
    net = types.SimpleNamespace(input_shape=input_shape, num_classes=10, model_name="fake")
    return Checkpoint(net, dict({"dataset": "mnist", "seed": 0}, **config), "fake", {})


def test_eval_data_centres_digits_on_a_larger_canvas(mnist_root):
    data = eval_data(fake_checkpoint((1, 40, 40), data_root=mnist_root), limit=3)
    assert len(data.dataset) == 3 and data.labels_per_image == 1
    plain = eval_data(fake_checkpoint((1, 28, 28)), "mnist", mnist_root).dataset
    canvas = data.dataset[2][0]
    assert canvas.shape == (1, 40, 40) and canvas.sum() == pytest.approx(plain[2][0].sum())
    assert (canvas[:, 6:34, 6:34] == plain[2][0]).all()
    with pytest.raises(ConfigError, match="--dataset mnist gives 1x28x28 images but model fake "
                                          "takes 1x20x20"):
        eval_data(fake_checkpoint((1, 20, 20), data_root=mnist_root))
