"""Image files as a model's input: padding, resizing, inversion, arrays refused when non-finite."""
import numpy as np
import pytest
from PIL import Image

from gluon_caps.errors import DataFormatError
from gluon_caps.inference import load_image


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
