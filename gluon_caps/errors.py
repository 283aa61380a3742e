"""Exception types of gluon-caps.

Every error the package raises for bad user input is a :class:`GluonCapsError`, so command-line
entry points can turn it into a one-line message and exit code 2 instead of a traceback.
"""

__all__ = ["GluonCapsError", "DataFormatError", "DataNotFoundError", "ConfigError",
           "CheckpointError"]


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
