"""The IDX and smallNORB binary-matrix readers, and gzip handling, on files written here."""
import numpy as np
import pytest

from gluon_caps.data.binmat import read_binary_matrix
from gluon_caps.data.idx import encode_idx, read_idx, write_idx
from gluon_caps.errors import ConfigError, DataFormatError

IMAGES = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_idx_round_trip(tmp_path, files, gz):
    path = files.write(tmp_path / "x-idx3-ubyte", files.idx(IMAGES), gz=gz)
    out = read_idx(str(path), 3)
    assert out.dtype == np.uint8 and out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, IMAGES)


def test_idx_reads_big_endian_int32(tmp_path, files):
    values = np.array([1, -2, 70000], ">i4")
    content = bytes([0, 0, 0x0C, 1]) + np.array([3], ">u4").tobytes() + values.tobytes()
    out = read_idx(str(files.write(tmp_path / "ints", content)), 1)
    np.testing.assert_array_equal(out, [1, -2, 70000])


def test_encode_idx_header():
    assert encode_idx(IMAGES)[:16] == bytes.fromhex("00000803 00000003 00000004 00000005")
    assert encode_idx(np.zeros(2, np.int32))[:4] == bytes.fromhex("00000C01")


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, ">f8"])
@pytest.mark.parametrize("name", ["a.gz", "a"])
def test_write_idx_round_trip(tmp_path, dtype, name):
    array = (np.arange(12) - 3).astype(dtype).reshape(2, 6)
    write_idx(str(tmp_path / name), array)
    assert (tmp_path / name).read_bytes()[:2] == (b"\x1f\x8b" if name.endswith(".gz") else b"\0\0")
    out = read_idx(str(tmp_path / name), 2)
    assert out.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("array", [np.zeros(2, np.int64), np.zeros((), np.uint8)])
def test_encode_idx_rejects_what_the_format_cannot_hold(array):
    with pytest.raises(ConfigError, match="IDX cannot hold"):
        encode_idx(array)


def _truncate_gzip(data):
    return data[:len(data) // 2]


def _break_crc(data):
    return data[:-8] + bytes(255 - b for b in data[-8:-4]) + data[-4:]


@pytest.mark.parametrize("damage, words", [
    (_truncate_gzip, "gzip"),
    (_break_crc, "gzip"),
    (lambda data: b"not gzip at all" + data, "gzip"),
], ids=["truncated", "bad-crc", "not-gzip"])
def test_corrupt_gzip_raises_naming_the_file(tmp_path, files, damage, words):
    path = files.write(tmp_path / "x-idx3-ubyte", files.idx(IMAGES))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataFormatError, match=words) as info:
        read_idx(str(path), 3)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content, words", [
    (b"\x12\x34\x08\x03" + bytes(12), "not an IDX file"),
    (b"\x00\x00\x07\x03" + bytes(12), "not an IDX file"),
    (b"\x00\x00", "not an IDX file"),
], ids=["magic", "type-code", "short"])
def test_idx_bad_magic(tmp_path, files, content, words):
    path = files.write(tmp_path / "bad", content)
    with pytest.raises(DataFormatError, match=words) as info:
        read_idx(str(path), 3)
    assert str(path) in str(info.value) and "0x0000TT03" in str(info.value)


@pytest.mark.parametrize("cut, words", [(-1, "file has"), (None, "3 dims")],
                         ids=["short-data", "ndim"])
def test_idx_size_and_dims_checked(tmp_path, files, cut, words):
    array = IMAGES if cut is not None else IMAGES.reshape(3, 20)
    path = files.write(tmp_path / "x", files.idx(array)[:cut])
    with pytest.raises(DataFormatError, match=words) as info:
        read_idx(str(path), 3)
    assert str(path) in str(info.value)


def test_idx_trailing_bytes_rejected(tmp_path, files):
    path = files.write(tmp_path / "x", files.idx(IMAGES) + b"\0")
    expected = r"shape \(3, 4, 5\) \(76 bytes in all\), the file has 77 bytes"
    with pytest.raises(DataFormatError, match=expected):
        read_idx(str(path), 3)


@pytest.mark.parametrize("array", [
    np.arange(2 * 2 * 3 * 3, dtype=np.uint8).reshape(2, 2, 3, 3),
    np.array([4, 0, 3, 70000], np.int32),
    np.arange(8, dtype=np.int32).reshape(2, 4) - 3,
], ids=["uint8-4d", "int32-1d", "int32-2d"])
@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_binary_matrix_round_trip(tmp_path, files, array, gz):
    out = read_binary_matrix(str(files.write(tmp_path / "m.mat", files.binmat(array), gz=gz)))
    assert out.dtype == array.dtype and out.shape == array.shape
    np.testing.assert_array_equal(out, array)


def _header(magic, ndim, dims):
    return np.array([magic, ndim] + dims, "<i4").tobytes()


@pytest.mark.parametrize("content, words", [
    (_header(0x1E3D4C56, 1, [2, 1, 1]) + bytes(4),
     "magic number 0x1E3D4C56, expected magic 0x1E3D4C55"),
    (_header(0x1E3D4C55, 1, [2, 1, 1])[:10], "truncated"),
    (_header(0x1E3D4C55, 2, [2, 3, 1]) + bytes(5), r"shape \(2, 3\)"),
    (_header(0x1E3D4C55, 1, [-2, 1, 1]), "negative"),
    (_header(0x1E3D4C55, 0, [1, 1, 1]), "0 dims"),
], ids=["magic", "short-header", "short-data", "negative-dim", "zero-dims"])
def test_binary_matrix_bad_input(tmp_path, files, content, words):
    path = files.write(tmp_path / "m.mat", content, gz=False)
    with pytest.raises(DataFormatError, match=words) as info:
        read_binary_matrix(str(path))
    assert str(path) in str(info.value)


def test_idx_absurd_dims_do_not_overflow(tmp_path, files):
    content = bytes([0, 0, 8, 3]) + np.array([2 ** 31] * 3, ">u4").tobytes() + bytes(8)
    with pytest.raises(DataFormatError, match="2147483648, 2147483648, 2147483648"):
        read_idx(str(files.write(tmp_path / "huge", content)), 3)
