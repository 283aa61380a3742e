"""Exception types of gluon-caps.

Every error the package raises for bad user input is a :class:`GluonCapsError`, so command-line
entry points can turn it into a one-line message and exit code 2 instead of a traceback.
"""
import numpy as np

__all__ = ["GluonCapsError", "DataFormatError", "DataNotFoundError", "ConfigError",
           "CheckpointError", "first_line", "format_shape", "check_int"]


class GluonCapsError(Exception):
    """Base class of the errors gluon-caps raises for bad input."""


class DataFormatError(GluonCapsError, ValueError):
    """A data file is corrupt, truncated or not in the expected format (message names the file)."""


class DataNotFoundError(GluonCapsError, FileNotFoundError):
    """A data file is missing and cannot be downloaded; the message names the file and directory."""


class ConfigError(GluonCapsError, ValueError):
    """A configuration value or command-line option is invalid; the message names the option."""


class CheckpointError(GluonCapsError, ValueError):
    """A checkpoint is missing, incomplete or of another model; the message names the file."""


def first_line(error, limit=200):
    """The gist of an exception's message in one line of at most ``limit`` characters: its first
    line, or the last of an MXNet message that carries a C++ stack trace."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    line = (lines[-1] if lines[0].startswith("Traceback") else lines[0]).strip()
    return line if len(line) <= limit else line[:limit - 3] + "..."


def format_shape(shape):
    """A shape as people write it in messages: ``(1, 28, 28)`` -> ``"1x28x28"``."""
    return "x".join(str(size) for size in shape)


def check_int(name, value, low, high=None):
    """Return ``value`` as an int; raise :class:`ConfigError` naming the argument unless it is an
    integer (not a bool) in ``[low, high]`` (``high=None``: no upper bound)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low \
            or (high is not None and value > high):
        bounds = "in %d..%d" % (low, high) if high is not None else ">= %d" % low
        raise ConfigError("%s must be an integer %s, got %r" % (name, bounds, value))
    return int(value)
