"""RandomShift, RandomPlacement and their pure cores; fresh randomness in DataLoader workers."""
import os
import pickle
import time

import numpy as np
import pytest
from mxnet.gluon.data import DataLoader, Dataset

from gluon_caps.data import RandomPlacement, RandomShift, place_image, shift_image
from gluon_caps.errors import ConfigError

IMAGE = np.arange(2 * 5 * 7, dtype=np.float32).reshape(2, 5, 7) + 1  # no zero pixel


@pytest.mark.parametrize("dx, dy", [(0, 0), (2, 0), (0, -2), (-3, 1), (6, 4), (-7, 0)])
def test_shift_image_moves_content(dx, dy):
    out = shift_image(IMAGE, dx, dy)
    assert out.shape == IMAGE.shape and out.dtype == IMAGE.dtype
    for channel in range(2):
        for row in range(5):
            for col in range(7):
                inside = 0 <= row - dy < 5 and 0 <= col - dx < 7
                expected = IMAGE[channel, row - dy, col - dx] if inside else 0
                assert out[channel, row, col] == expected


def offset_of(out, image):
    """The (dx, dy) for which ``out == shift_image(image, dx, dy)``; the search spans +-3 px."""
    found = [(dx, dy) for dx in range(-3, 4) for dy in range(-3, 4)
             if np.array_equal(out, shift_image(image, dx, dy))]
    assert len(found) == 1
    return found[0]


def test_random_shift_offsets_in_range_and_all_drawn():
    shift = RandomShift(2, seed=0)
    offsets = {offset_of(shift(IMAGE), IMAGE) for _ in range(400)}
    assert offsets == {(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3)}


def test_seeded_shift_is_reproducible_and_unseeded_is_not():
    def offsets(shift):
        return [offset_of(shift(IMAGE), IMAGE) for _ in range(20)]

    assert offsets(RandomShift(2, seed=7)) == offsets(RandomShift(2, seed=7))
    assert offsets(RandomShift(2, seed=7)) != offsets(RandomShift(2, seed=8))
    assert offsets(RandomShift(2)) != offsets(RandomShift(2))


class PointDataset(Dataset):
    """A 9x9 image with one lit pixel at the centre, and the id of the process that made it."""

    def __init__(self, transform):
        self.transform = transform

    def __len__(self):
        return 64

    def __getitem__(self, idx):
        time.sleep(0.005)  # keep both workers busy
        image = np.zeros((1, 9, 9), np.float32)
        image[0, 4, 4] = 1
        return self.transform(image), np.int64(os.getpid())


@pytest.mark.parametrize("seed", [None, 5])
def test_workers_draw_different_offsets(seed):
    shift = RandomShift(2, seed=seed)
    shift(np.zeros((1, 9, 9), np.float32))  # the generator exists before the workers fork
    per_worker = {}
    for images, pids in DataLoader(PointDataset(shift), batch_size=8, num_workers=2):
        flat = images.asnumpy().reshape(len(images), -1).argmax(axis=1)
        for pos, pid in zip(flat, pids.asnumpy()):
            per_worker.setdefault(int(pid), []).append((pos % 9 - 4, pos // 9 - 4))
    assert len(per_worker) == 2 and os.getpid() not in per_worker
    sequences = [offsets[:8] for offsets in per_worker.values()]
    assert sequences[0] != sequences[1]
    assert all(max(abs(dx), abs(dy)) <= 2 for offsets in sequences for dx, dy in offsets)


def test_place_image():
    out = place_image(IMAGE, 9, 3, 1)
    assert out.shape == (2, 9, 9)
    np.testing.assert_array_equal(out[:, 3:8, 1:8], IMAGE)
    assert out.sum() == IMAGE.sum()


def test_random_placement_covers_the_canvas():
    digit = np.ones((1, 28, 28), np.float32)
    placement = RandomPlacement(40, seed=1)
    corners = set()
    for _ in range(600):
        out = placement(digit)
        assert out.shape == (1, 40, 40) and out.sum() == digit.sum()
        rows, cols = np.nonzero(out[0])
        top, left = rows.min(), cols.min()
        np.testing.assert_array_equal(out[:, top:top + 28, left:left + 28], digit)
        corners.add((top, left))
    tops, lefts = zip(*corners)
    assert set(tops) == set(range(13)) and set(lefts) == set(range(13))


@pytest.mark.parametrize("make", [lambda: RandomShift(-1), lambda: RandomShift(1.5),
                                  lambda: RandomPlacement(0)])
def test_bad_arguments(make):
    with pytest.raises(ConfigError, match="max_shift|canvas"):
        make()


def test_placement_needs_a_large_enough_canvas():
    with pytest.raises(ConfigError, match="canvas=20 is smaller than the 28x28 image"):
        RandomPlacement(20)(np.ones((1, 28, 28)))


def test_transforms_pickle_with_their_state():
    for transform in (RandomShift(2, seed=1), RandomPlacement(12, seed=1)):
        transform(IMAGE)
        clone = pickle.loads(pickle.dumps(transform))
        np.testing.assert_array_equal(clone(IMAGE), transform(IMAGE))
