"""The ``gluon-caps`` command line: a thin click group over library functions.

Every command turns a :class:`~gluon_caps.errors.GluonCapsError` into one sentence on stderr and
exit code 2, never a traceback.
"""
import click

from .._version import __version__
from ..errors import GluonCapsError
from .bench import bench
from .curve import curve
from .evaluate import evaluate
from .export import export
from .models import models
from .perturb import perturb
from .predict import predict
from .reconstruct import reconstruct
from .routing import routing

__all__ = ["main"]


class InputError(click.ClickException):
    """A bad file or option: one line on stderr, exit code 2."""
    exit_code = 2


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super(_Group, self).invoke(ctx)
        except GluonCapsError as error:
            raise InputError(str(error)) from error


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gluon-caps")
def main():
    """Capsule networks in MXNet Gluon: inspect, evaluate, export and benchmark models."""


for _command in (models, evaluate, reconstruct, perturb, routing, curve, export, predict, bench):
    main.add_command(_command)
