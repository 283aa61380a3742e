"""Output files: parent directories are created, failures become one-line errors."""
import os

from ..errors import GluonCapsError

__all__ = ["prepare_output"]


def prepare_output(path):
    """Create the missing parent directories of an output file; return ``path``.

    Raises
    ------
    GluonCapsError
        When ``path`` is a directory or its directory cannot be created (the message names it).
    """
    if os.path.isdir(path):
        raise GluonCapsError("output %s is a directory; give a file name" % path)
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as error:
        raise GluonCapsError("cannot create the output directory %s: %s"
                             % (parent, error.strerror or error)) from error
    return path
