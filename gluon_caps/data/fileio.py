"""Reading a data file, gzip-compressed or not, into a byte array (DataFormatError if corrupt)."""
import gzip
import zlib

import numpy as np

from ..errors import DataFormatError

__all__ = ["GZIP_MAGIC", "read_buffer"]

GZIP_MAGIC = b"\x1f\x8b"


def read_buffer(path):
    """Read a whole file, decompressing it when it starts with the gzip magic bytes.

    Parameters
    ----------
    path : str
        The file; a name ending in ``.gz`` must hold gzip data.

    Returns
    -------
    numpy.ndarray
        uint8, shape (num_bytes,): the (decompressed) content.

    Raises
    ------
    DataFormatError
        When a gzip stream is truncated or corrupt, or a ``.gz`` file is not gzip data.
    """
    with open(path, "rb") as stream:
        raw = stream.read()
    if raw[:2] != GZIP_MAGIC:
        if path.endswith(".gz"):
            raise DataFormatError("%s: expected gzip data (a .gz file), found no gzip header"
                                  % path)
        return np.frombuffer(raw, dtype=np.uint8)
    try:
        content = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DataFormatError("%s: truncated or corrupt gzip data (%s)" % (path, err)) from err
    return np.frombuffer(content, dtype=np.uint8)
