"""The NYU "binary matrix" format of smallNORB: little-endian magic, ndim, dims, then the data."""
import gzip
import math

import numpy as np

from ..errors import ConfigError, DataFormatError
from .fileio import read_buffer

__all__ = ["BINMAT_TYPES", "read_binary_matrix", "encode_binary_matrix",
           "write_binary_matrix"]

BINMAT_TYPES = {0x1E3D4C55: "<u1", 0x1E3D4C54: "<i4"}  # magic -> little-endian dtype


def read_binary_matrix(path):
    """Read a binary-matrix file (gzip-compressed or not).

    The header is little-endian int32: the magic number (``0x1E3D4C55`` uint8 data, ``0x1E3D4C54``
    int32 data), ``ndim``, then ``max(ndim, 3)`` dims of which only the first ``ndim`` count.

    Parameters
    ----------
    path : str
        E.g. ``smallnorb-...-testing-dat.mat``, or the same plus ``.gz``.

    Returns
    -------
    numpy.ndarray
        uint8 or int32 in native byte order, of the shape the header gives.

    Raises
    ------
    DataFormatError
        On a corrupt gzip stream, an unknown magic number, a bad header or a size that does not
        match it.
    """
    buf = read_buffer(path)
    expected = "magic 0x1E3D4C55 (uint8) or 0x1E3D4C54 (int32)"
    if buf.size < 8:
        raise DataFormatError("%s: truncated binary-matrix header (%d bytes), expected %s"
                              % (path, buf.size, expected))
    magic, ndim = (int(v) for v in buf[:8].view("<i4"))
    if magic not in BINMAT_TYPES:
        raise DataFormatError("%s: magic number 0x%08X, expected %s"
                              % (path, magic & 0xFFFFFFFF, expected))
    if not 1 <= ndim <= 8:
        raise DataFormatError("%s: binary matrix with %d dims, expected 1..8" % (path, ndim))
    header = 8 + 4 * max(ndim, 3)
    if buf.size < header:
        raise DataFormatError("%s: truncated binary-matrix header (%d bytes, expected %d)"
                              % (path, buf.size, header))
    shape = tuple(int(d) for d in buf[8:header].view("<i4")[:ndim])
    dtype = np.dtype(BINMAT_TYPES[magic])
    if min(shape) < 0:
        raise DataFormatError("%s: negative dims %s in the header" % (path, shape))
    expected_bytes = header + math.prod(shape) * dtype.itemsize
    if buf.size != expected_bytes:
        raise DataFormatError("%s: header says shape %s (%d bytes in all), the file has %d bytes"
                              % (path, shape, expected_bytes, buf.size))
    return buf[header:].view(dtype).reshape(shape).astype(dtype.newbyteorder("="))


def encode_binary_matrix(array):
    """Return the bytes of a binary-matrix file holding a uint8 or int32 ``array``.

    Raises
    ------
    ConfigError
        For another dtype.
    """
    magics = {np.dtype(dtype): magic for magic, dtype in BINMAT_TYPES.items()}
    dtype = array.dtype.newbyteorder("<")
    if dtype not in magics:
        raise ConfigError("a binary matrix holds uint8 or int32 data, not %s" % array.dtype)
    dims = list(array.shape) + [1] * (3 - array.ndim)
    return (np.array([magics[dtype], array.ndim] + dims, "<i4").tobytes()
            + np.ascontiguousarray(array, dtype).tobytes())


def write_binary_matrix(path, array):
    """Write ``array`` as a binary-matrix file, gzip-compressed when ``path`` ends in ``.gz``."""
    content = encode_binary_matrix(array)
    with open(path, "wb") as stream:
        stream.write(gzip.compress(content) if str(path).endswith(".gz") else content)
