"""smallNORB on binary-matrix files written here, and the paper's preprocessing transforms."""
import numpy as np
import pytest

from gluon_caps.data import SmallNORB, SmallNORBTestTransform, SmallNORBTrainTransform
from gluon_caps.data.norb_transforms import standardize
from gluon_caps.data.smallnorb import area_downsample
from gluon_caps.errors import ConfigError, DataFormatError, DataNotFoundError


def test_reads_downsamples_and_standardises(norb_root):
    root, images, labels, info = norb_root
    data = SmallNORB(str(root), "test")
    assert data.images.shape == (6, 2, 48, 48) and data.images.dtype == np.uint8
    blocks = images[2, 1, 10:12, 30:32].astype(float)
    assert data.images[2, 1, 5, 15] == np.floor(blocks.mean() + 0.5)
    np.testing.assert_array_equal(data.labels, labels)
    np.testing.assert_array_equal(data.info, info)
    image, label = data[2]
    assert image.shape == (2, 32, 32) and image.dtype == np.float32 and label == 2
    np.testing.assert_allclose(image, standardize(data.images[2, :, 8:40, 8:40] / 255.0), atol=1e-5)
    assert abs(image.mean()) < 1e-5 and abs(image.std() - 1) < 1e-4


def test_area_downsample_matches_block_means():
    images = np.random.default_rng(0).integers(0, 256, (3, 2, 8, 6), dtype=np.uint8)
    expected = np.floor(images.reshape(3, 2, 4, 2, 3, 2).mean(axis=(3, 5)) + 0.5)
    np.testing.assert_array_equal(area_downsample(images), expected)


def test_gzipped_files_in_root(tmp_path, files, norb_root):
    _, images, labels, info = norb_root
    for part, array in (("dat", images), ("cat", labels), ("info", info)):
        files.write(tmp_path / "gz" / (files.norb_pattern["test"] % part), files.binmat(array))
    np.testing.assert_array_equal(SmallNORB(str(tmp_path / "gz"), "test").labels, labels)


def test_train_split_uses_the_random_transform(tmp_path, files, norb_root):
    _, images, labels, info = norb_root
    for part, array in (("dat", images), ("cat", labels), ("info", info)):
        files.write(tmp_path / (files.norb_pattern["train"] % part), files.binmat(array), gz=False)
    data = SmallNORB(str(tmp_path), "train")
    assert isinstance(data.transform, SmallNORBTrainTransform)
    first, second = data[0][0], data[0][0]
    assert first.shape == (2, 32, 32) and not np.array_equal(first, second)


def standardized_crops(image):
    """All 17 x 17 standardised 32x32 crops of a (2, 48, 48) image: shape (17, 17, 2, 32, 32)."""
    return np.array([[standardize(image[:, top:top + 32, left:left + 32]) for left in range(17)]
                     for top in range(17)])


def test_train_transform_crops_everywhere():
    image = np.random.default_rng(1).random((2, 48, 48))
    crops = standardized_crops(image)
    plain = SmallNORBTrainTransform(max_brightness=0, contrast=(1, 1), seed=0)
    positions = set()
    for _ in range(300):
        error = np.abs(crops - plain(image)).max(axis=(2, 3, 4))
        assert np.count_nonzero(error < 1e-5) == 1  # exactly one crop position matches
        positions.add(np.unravel_index(error.argmin(), error.shape))
    tops, lefts = zip(*positions)
    assert set(tops) == set(range(17)) and set(lefts) == set(range(17))


def test_train_transform_jitter_changes_the_output():
    image = np.random.default_rng(2).random((2, 48, 48))
    jitter = SmallNORBTrainTransform(seed=0)
    outputs = [jitter(image) for _ in range(20)]
    for out in outputs:
        assert abs(out.mean()) < 1e-5 and abs(out.std() - 1) < 1e-4
    crops = standardized_crops(image)
    unchanged = [np.abs(crops - out).max(axis=(2, 3, 4)).min() < 1e-4 for out in outputs]
    assert not any(unchanged)


def test_standardize_floors_the_std():
    out = standardize(np.full((2, 4, 4), 0.5))
    assert out.dtype == np.float32 and np.all(out == 0)


def test_test_transform_is_central():
    image = np.random.default_rng(3).random((2, 48, 48))
    np.testing.assert_allclose(SmallNORBTestTransform()(image), standardize(image[:, 8:40, 8:40]))


@pytest.mark.parametrize("part, array, words", [
    ("dat", np.zeros((6, 1, 96, 96), np.uint8), r"expected uint8 images of shape \(N, 2, 96, 96\)"),
    ("dat", np.zeros((6, 2, 96, 96), np.int32), "expected uint8 images"),
    ("cat", np.zeros(5, np.int32), "5 labels but .* 6 images"),
    ("cat", np.array([0, 1, 2, 3, 5, 0], np.int32), r"labels must lie in 0\.\.4"),
    ("info", np.zeros((6, 3), np.int32), r"expected int32 info of shape \(6, 4\)"),
], ids=["dat-dims", "dat-dtype", "count", "label-range", "info-shape"])
def test_bad_files(norb_root, files, part, array, words):
    root = norb_root[0]
    name = files.norb_pattern["test"] % part
    files.write(root / "smallnorb" / name, files.binmat(array), gz=False)
    with pytest.raises(DataFormatError, match=words) as info:
        SmallNORB(str(root), "test")
    assert name in str(info.value)


def test_missing_files_and_bad_split(norb_root):
    with pytest.raises(DataNotFoundError, match="training-dat.mat' not found in"):
        SmallNORB(str(norb_root[0]), "train")
    with pytest.raises(ConfigError, match="split"):
        SmallNORB(str(norb_root[0]), "validation")
