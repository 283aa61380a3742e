"""gluon-caps: Capsule Networks (Sabour, Frosst & Hinton, 2017) in MXNet Gluon, with Horovod."""
from ._version import __version__
from .amx import request_amx
from .check import check_environment, default_threads

check_environment()
default_threads()
request_amx()                 # before MXNet's first kernel: oneDNN reads its ISA cap once

from . import data, errors, loss, model_zoo, nn  # noqa: E402  (after the environment check)

__all__ = ["__version__", "data", "errors", "loss", "model_zoo", "nn"]
