"""The IDX file format of MNIST: big-endian header ``0x00 0x00 <type> <ndim>``, dims, data."""
import gzip
import math

import numpy as np

from ..errors import ConfigError, DataFormatError
from .fileio import read_buffer

__all__ = ["IDX_TYPES", "read_idx", "parse_idx", "encode_idx", "write_idx"]

# type code (third magic byte) -> big-endian numpy dtype
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path, ndim):
    """Read an IDX file (gzip-compressed or not).

    Parameters
    ----------
    path : str
        The file.
    ndim : int
        The number of dimensions the caller expects (3 for images, 1 for labels).

    Returns
    -------
    numpy.ndarray
        The data in native byte order, shape as the header says.

    Raises
    ------
    DataFormatError
        On a corrupt gzip stream, a wrong magic number or dimension count, or a size that does not
        match the header.
    """
    return parse_idx(read_buffer(path), path, ndim)


def parse_idx(buf, name, ndim):
    """Parse the bytes of an IDX file; see :func:`read_idx`.

    Parameters
    ----------
    buf : numpy.ndarray
        uint8, shape (num_bytes,): the whole uncompressed file.
    name : str
        The file name for error messages.
    ndim : int
        The expected number of dimensions.
    """
    expected = "an IDX magic number 0x0000TT%02X (TT a type code in %s, %d dims)" % (
        ndim, sorted(IDX_TYPES), ndim)
    if buf.size < 4 or buf[0] != 0 or buf[1] != 0 or int(buf[2]) not in IDX_TYPES:
        raise DataFormatError("%s: not an IDX file: first bytes %s, expected %s"
                              % (name, bytes(buf[:4]).hex(), expected))
    if int(buf[3]) != ndim:
        raise DataFormatError("%s: IDX file has %d dims, expected %s" % (name, buf[3], expected))
    header = 4 + 4 * ndim
    if buf.size < header:
        raise DataFormatError("%s: truncated IDX header (%d bytes, expected at least %d)"
                              % (name, buf.size, header))
    shape = tuple(int(d) for d in buf[4:header].view(">u4"))
    dtype = np.dtype(IDX_TYPES[int(buf[2])])
    expected_bytes = header + math.prod(shape) * dtype.itemsize
    if buf.size != expected_bytes:
        raise DataFormatError("%s: IDX header says shape %s (%d bytes in all), the file has %d "
                              "bytes"
                              % (name, shape, expected_bytes, buf.size))
    return buf[header:].view(dtype).reshape(shape).astype(dtype.newbyteorder("="))


def encode_idx(array):
    """Return the bytes of an IDX file holding ``array``.

    Parameters
    ----------
    array : numpy.ndarray
        Of a dtype the format has (uint8, int8, int16, int32, float32, float64), 1 to 255 dims.

    Raises
    ------
    ConfigError
        For a dtype or a number of dims the format cannot hold.

    Returns
    -------
    bytes
        Header ``0x00 0x00 <type> <ndim>``, the big-endian uint32 dims, the big-endian data.
    """
    codes = {np.dtype(dtype): code for code, dtype in IDX_TYPES.items()}
    dtype = array.dtype.newbyteorder(">")
    if dtype not in codes or not 1 <= array.ndim <= 255:
        raise ConfigError("IDX cannot hold a %d-dim %s array" % (array.ndim, array.dtype))
    return (bytes([0, 0, codes[dtype], array.ndim]) + np.array(array.shape, ">u4").tobytes()
            + np.ascontiguousarray(array, dtype).tobytes())


def write_idx(path, array):
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``.

    Parameters
    ----------
    path : str
        The file to write.
    array : numpy.ndarray
        See :func:`encode_idx`.
    """
    content = encode_idx(array)
    with open(path, "wb") as stream:
        stream.write(gzip.compress(content) if str(path).endswith(".gz") else content)
