"""The library under the commands: image preparation, evaluation sets, report tables."""
import types

import numpy as np
import pytest
from PIL import Image

from gluon_caps.errors import ConfigError, DataFormatError
from gluon_caps.inference import Checkpoint, eval_data, format_report, load_image


def test_load_image_pads_resizes_and_inverts(tmp_path):
    pixels = np.zeros((30, 60), np.uint8)
    pixels[:, :30] = 255
    Image.fromarray(pixels).save(str(tmp_path / "half.png"))
    image, notes = load_image(str(tmp_path / "half.png"), (1, 20, 20))
    assert image.shape == (1, 20, 20) and image.dtype == np.float32
    assert notes == ["padded from 30x60 to 60x60 with black to keep the aspect ratio",
                     "resized from 60x60 to 20x20 (the model's input)"]
    assert image[0, :4].max() < 0.01 and image[0, -4:].max() < 0.01  # the black padding
    assert image[0, 8:12, :8].min() > 0.95 and image[0, 8:12, 12:].max() < 0.05
    inverted, notes = load_image(str(tmp_path / "half.png"), (1, 20, 20), invert=True)
    assert inverted[0, 8:12, 12:].min() > 0.95 and inverted[0, 8:12, :8].max() < 0.05


def test_load_image_refuses_non_finite_arrays(tmp_path):
    np.save(str(tmp_path / "nan.npy"), np.full((4, 4), np.nan))
    with pytest.raises(DataFormatError, match="nan.npy holds NaN"):
        load_image(str(tmp_path / "nan.npy"), (1, 4, 4))


def test_format_report_lines():
    report = {"errors": 1, "count": 3, "error": 1 / 3.0, "labels_per_image": 1,
              "per_class": [{"class": 0, "name": "cat", "count": 2, "correct": 1,
                             "accuracy": 0.5},
                            {"class": 1, "name": "dog", "count": 1, "correct": 1,
                             "accuracy": 1.0},
                            {"class": 2, "name": "eel", "count": 0, "correct": 0,
                             "accuracy": None}],
              "confusion": [[1, 1, 0], [0, 1, 0], [0, 0, 0]]}
    lines = format_report(report).splitlines()
    assert lines[0] == "test error: 33.33% (1 of 3 images)"
    assert lines[3].split() == ["cat", "2", "1", "50.00%"]
    assert lines[5].split() == ["eel", "0", "0", "-"]
    assert lines[-4].split() == ["cat", "dog", "eel"]
    assert [line.split() for line in lines[-3:]] == [
        ["cat", "1", "1", "0"], ["dog", "0", "1", "0"], ["eel", "0", "0", "0"]]


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
