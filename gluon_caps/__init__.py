"""gluon-caps: Capsule Networks (Sabour, Frosst & Hinton, 2017) in MXNet Gluon, with Horovod."""
from ._version import __version__
from .check import check_environment

check_environment()

from . import errors, nn, loss, model_zoo  # noqa: E402  (after the environment check)

__all__ = ["__version__", "errors", "nn", "loss", "model_zoo"]
