"""affNIST on .mat files written with scipy.io.savemat in the published layout."""
import numpy as np
import pytest
import scipy.io

from gluon_caps.data import AffNIST
from gluon_caps.errors import ConfigError, DataFormatError, DataNotFoundError


def digits(num, seed=0):
    """Non-symmetric 40x40 images: a horizontal bar in rows 2..4 plus random pixels."""
    images = np.random.default_rng(seed).integers(0, 100, (num, 40, 40), dtype=np.uint8)
    images[:, 2:5, 10:30] = 255
    return images, np.arange(num, dtype=np.uint8) % 10


def test_orientation_round_trips(tmp_path, files):
    images, labels = digits(3)
    path = files.affnist(tmp_path / "test.mat", images, labels)
    data = AffNIST(str(path))
    np.testing.assert_array_equal(data.images, images)
    assert data.images[0, 2:5, 10:30].min() == 255 and data.images[0, 10:30, 2:5].max() < 255
    image, label = data[1]
    assert image.shape == (1, 40, 40) and image.dtype == np.float32 and label == 1
    np.testing.assert_allclose(image[0], images[1] / 255.0, rtol=1e-6)


@pytest.mark.parametrize("labels_shape", [(1, -1), (-1, 1)], ids=["row", "column"])
def test_label_orientations(tmp_path, files, labels_shape):
    images, labels = digits(4)
    files.affnist(tmp_path / "affnist" / "validation.mat", images, labels.reshape(labels_shape))
    data = AffNIST(str(tmp_path), "validation")
    assert data.labels.dtype == np.int32 and data.labels.tolist() == [0, 1, 2, 3]


def test_batches_are_read_in_numeric_order(tmp_path, files):
    for batch in (1, 2, 10):
        images, _ = digits(2, seed=batch)
        files.affnist(tmp_path / "test_batches" / ("%d.mat" % batch), images,
                      np.full(2, batch % 10, np.uint8))
    data = AffNIST(str(tmp_path), "test")
    assert data.labels.tolist() == [1, 1, 2, 2, 0, 0]
    assert [f.rsplit("/", 1)[1] for f in data.files] == ["1.mat", "2.mat", "10.mat"]


@pytest.mark.parametrize("change, words", [
    (lambda images, labels: (images[:, :39], labels), r"shape \(1560, 3\), expected \(1600, N\)"),
    (lambda images, labels: (images, labels[:2]), "2 labels but .* 3 images"),
    (lambda images, labels: (images, labels + 8), r"labels must lie in 0\.\.9"),
    (lambda images, labels: (images.astype(np.float64), labels), "expected uint8 images"),
], ids=["rows", "count", "label-range", "dtype"])
def test_bad_content(tmp_path, files, change, words):
    path = files.affnist(tmp_path / "test.mat", *change(*digits(3)))
    with pytest.raises(DataFormatError, match=words) as info:
        AffNIST(str(path))
    assert str(path) in str(info.value)


def test_not_a_mat_file_or_wrong_struct(tmp_path, files):
    garbage = tmp_path / "garbage.mat"
    garbage.write_bytes(b"MATLAB? no." * 30)
    with pytest.raises(DataFormatError, match="garbage.mat: expected a MAT file with a struct"):
        AffNIST(str(garbage))
    other = tmp_path / "other.mat"
    scipy.io.savemat(str(other), {"affNISTdata": {"image": np.zeros((1600, 1), np.uint8)}})
    with pytest.raises(DataFormatError, match="other.mat: .*label_int"):
        AffNIST(str(other))


def test_missing_and_bad_split(tmp_path):
    with pytest.raises(DataNotFoundError, match="'test.mat' not found in .*test_batches"):
        AffNIST(str(tmp_path), "test")
    with pytest.raises(ConfigError, match="split"):
        AffNIST(str(tmp_path), "train")
