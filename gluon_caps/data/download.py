"""Downloading a data file from a list of mirrors, checked by md5 and written atomically."""
import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.request

from ..errors import DataNotFoundError

__all__ = ["TIMEOUT", "fetch", "md5sum", "download"]

TIMEOUT = 30.0  # seconds a mirror may stay silent before the next one is tried
_CHUNK = 1 << 20


def fetch(url, stream, timeout=TIMEOUT):
    """Copy what ``url`` (``http(s)://`` or ``file://``) serves into the binary ``stream``."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        shutil.copyfileobj(response, stream, _CHUNK)


def md5sum(path):
    """Return the hex md5 digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(name, directory, mirrors, md5):
    """Download ``name`` into ``directory`` from the first mirror that serves it with the right md5.

    Each attempt writes to a temporary file in ``directory`` that is renamed onto
    ``<directory>/<name>`` only once its md5 matches, so an interrupted or corrupt download never
    leaves a partial file.

    Parameters
    ----------
    name : str
        The file name, appended to each mirror URL.
    directory : str
        Where the file goes; created if missing.
    mirrors : list of str
        Base URLs ending in ``/``, tried in order.
    md5 : str
        The expected hex md5 digest.

    Returns
    -------
    str
        The path of the downloaded file.

    Raises
    ------
    DataNotFoundError
        When no mirror serves the file with the right md5; the message gives each mirror's failure.
    """
    target = os.path.join(directory, name)
    failures = []
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as err:
        raise DataNotFoundError("cannot download %s: cannot create %s (%s)"
                                % (name, directory, err)) from err
    for mirror in mirrors:
        url = mirror + name
        handle, partial = tempfile.mkstemp(prefix=name + ".", suffix=".part", dir=directory)
        try:
            with os.fdopen(handle, "wb") as stream:
                fetch(url, stream)
            actual = md5sum(partial)
            if actual == md5:
                os.replace(partial, target)
                return target
            failures.append("%s: md5 %s, expected %s" % (url, actual, md5))
        except (OSError, http.client.HTTPException) as err:  # URLError, timeouts, disk errors
            failures.append("%s: %s" % (url, err))
        finally:
            if os.path.exists(partial):
                os.remove(partial)
    raise DataNotFoundError("could not download %s (%s)" % (name, "; ".join(failures)))
