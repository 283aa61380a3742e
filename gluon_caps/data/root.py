"""Where data sets live: the data root and the files found below it."""
import os

from ..errors import DataNotFoundError

__all__ = ["ENV_VAR", "DEFAULT_ROOT", "data_root", "candidate_dirs", "find_file", "missing_message"]

ENV_VAR = "GLUON_CAPS_DATA"
DEFAULT_ROOT = os.path.join("~", ".mxnet", "datasets")


def data_root(root=None):
    """Return the data root: ``root``, else ``$GLUON_CAPS_DATA``, else ``~/.mxnet/datasets``.

    Parameters
    ----------
    root : str or None
        An explicit directory; ``~`` is expanded.

    Returns
    -------
    str
        The absolute directory (it need not exist).
    """
    if root is None:
        root = os.environ.get(ENV_VAR) or DEFAULT_ROOT
    return os.path.abspath(os.path.expanduser(str(root)))


def candidate_dirs(root, subdir):
    """Return the directories searched for a data set's files: ``<root>/<subdir>``, ``<root>``.

    Parameters
    ----------
    root : str or None
        Resolved with :func:`data_root`.
    subdir : str
        The data set's own folder name, e.g. ``"mnist"``.
    """
    base = data_root(root)
    return [os.path.join(base, subdir), base]


def find_file(names, dirs, what):
    """Return the first existing ``<dir>/<name>``, trying every name in every directory in order.

    Parameters
    ----------
    names : list of str
        Accepted file names, preferred first (e.g. the ``.gz`` and the uncompressed name).
    dirs : list of str
        Directories to search, preferred first.
    what : str
        The data set's name for the error message.

    Raises
    ------
    DataNotFoundError
        When no candidate exists; the message names the file, the directories and
        ``$GLUON_CAPS_DATA``.
    """
    for directory in dirs:
        for name in names:
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                return path
    raise DataNotFoundError(missing_message(names[0], dirs, what))


def missing_message(name, dirs, what):
    """Return the message for a missing data file: the file, the directories, the variable."""
    return ("%s file %r not found in %s; put it there, or point root=... or the %s environment "
            "variable at the directory holding it" % (what, name, " or ".join(dirs), ENV_VAR))
