"""MultiMNIST: pairs of different classes, shifts within +-4 px, determinism from (seed, index)."""
import numpy as np
import pytest
from mxnet.gluon.data import DataLoader

from gluon_caps.data import MNIST, MultiMNIST
from gluon_caps.errors import ConfigError


@pytest.fixture
def multi(mnist_root):
    return MultiMNIST(MNIST(str(mnist_root[0]), "test"), pairs_per_image=30, seed=0)


def recover_offset(digit, base):
    """The (dy, dx) at which the 28x28 ``base`` (uint8) sits alone on the 36x36 ``digit`` canvas."""
    found = []
    for top in range(9):
        for left in range(9):
            canvas = np.zeros((36, 36), np.float32)
            canvas[top:top + 28, left:left + 28] = base / 255.0
            if np.allclose(digit, canvas):
                found.append((top - 4, left - 4))
    assert len(found) == 1
    return found[0]


def test_samples_are_two_shifted_digits_of_different_classes(multi):
    mnist = multi.mnist
    assert len(multi) == 20 * 30
    shifts = set()
    for index in range(0, len(multi), 7):
        image, labels, digits = multi[index]
        assert image.shape == (1, 36, 36) and image.dtype == np.float32
        assert digits.shape == (2, 1, 36, 36) and digits.dtype == np.float32
        assert labels.shape == (2,) and labels.dtype == np.int32 and labels[0] != labels[1]
        np.testing.assert_array_equal(image, np.maximum(digits[0], digits[1]))
        assert 0.0 <= image.min() and image.max() <= 1.0
        bases, _ = multi.pair(index)
        assert bases[0] == index // 30
        np.testing.assert_array_equal(labels, mnist.labels[bases])
        for digit, base in zip(digits, bases):
            dy, dx = recover_offset(digit[0], mnist.images[base])
            assert -4 <= dy <= 4 and -4 <= dx <= 4
            shifts.update((dy, dx))
    assert shifts == set(range(-4, 5))


def test_pair_reports_the_drawn_shifts(multi):
    bases, shifts = multi.pair(123)
    _, _, digits = multi[123]
    for digit, base, shift in zip(digits, bases, shifts):
        assert recover_offset(digit[0], multi.mnist.images[base]) == tuple(shift)


def test_second_digit_covers_all_other_classes(multi):
    seconds = {int(multi[index][1][1]) for index in range(30)}  # all pairs of base image 0
    assert seconds == set(range(10)) - {int(multi.mnist.labels[0])}


def test_deterministic_from_seed_and_index(mnist_root, multi):
    again = MultiMNIST(str(mnist_root[0]), "test", pairs_per_image=30, seed=0)
    reseeded = MultiMNIST(str(mnist_root[0]), "test", pairs_per_image=30, seed=1)
    for a, b in zip(multi[77], again[77]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(multi[77][0], multi[78][0])
    assert not np.array_equal(multi[77][0], reseeded[77][0])


def test_test_pairs_use_test_images_only(mnist_root):
    multi = MultiMNIST(str(mnist_root[0]), "test", pairs_per_image=2)
    assert len(multi) == 40
    known = {split: {image.tobytes() for image in images}
             for split, (images, _) in mnist_root[1].items()}
    for index in range(len(multi)):
        for digit in multi[index][2][:, 0]:
            rows, cols = np.nonzero(digit)  # the random fake digits have no zero border
            window = digit[rows.min():rows.min() + 28, cols.min():cols.min() + 28]
            pixels = np.round(window * 255).astype(np.uint8).tobytes()
            assert pixels in known["test"] and pixels not in known["train"]


def test_dataloader_batches(multi):
    image, labels, digits = next(iter(DataLoader(multi, batch_size=4, num_workers=2)))
    assert image.shape == (4, 1, 36, 36) and labels.shape == (4, 2)
    assert digits.shape == (4, 2, 1, 36, 36)


@pytest.mark.parametrize("kwargs, words", [
    ({"pairs_per_image": 0}, "pairs_per_image"),
    ({"split": "train"}, "contradicts"),
    ({"seed": -1}, "seed"),
])
def test_bad_arguments(mnist_root, kwargs, words):
    with pytest.raises(ConfigError, match=words):
        MultiMNIST(MNIST(str(mnist_root[0]), "test"), **kwargs)


def test_index_out_of_range(multi):
    with pytest.raises(IndexError):
        multi[len(multi)]
