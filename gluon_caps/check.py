"""Import-time environment check: a one-line hint instead of a deep MXNet traceback.

MXNet 1.9.1 uses NumPy aliases (``np.bool``...) removed in NumPy 1.24, and is installed through
an extra (``[cpu]`` or ``[gpu]``) so GPU users never pull the CPU wheel.
"""
import importlib.util
import os

__all__ = ["MAX_NUMPY", "environment_problem", "check_environment", "default_threads"]

MAX_NUMPY = (1, 24)  # first NumPy release MXNet 1.9.1 cannot import with


def _version_tuple(version):
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def environment_problem(numpy_version, mxnet_installed):
    """Return a one-line description of what is wrong with the environment, or ``None``.

    Parameters
    ----------
    numpy_version : str or None
        The installed NumPy version, ``None`` when NumPy is missing.
    mxnet_installed : bool
        Whether an ``mxnet`` package can be imported.
    """
    if numpy_version is not None and _version_tuple(numpy_version) >= MAX_NUMPY:
        return ("gluon-caps needs numpy<1.24 (MXNet 1.9.1 breaks on numpy %s): "
                "pip install 'numpy<1.24'" % numpy_version)
    if not mxnet_installed:
        return ("gluon-caps needs MXNet 1.9.1: pip install 'gluon-caps[cpu]' "
                "(or 'gluon-caps[gpu]' for CUDA 11.2)")
    return None


def check_environment():
    """Raise :class:`ImportError` with a one-line hint when MXNet is missing or NumPy too new."""
    try:
        import numpy
        numpy_version = numpy.__version__
    except ImportError:
        numpy_version = None
    problem = environment_problem(numpy_version, importlib.util.find_spec("mxnet") is not None)
    if problem:
        raise ImportError(problem)


def default_threads(environ=os.environ):
    """Give each Horovod worker an equal share of its host's cores as OpenMP threads, unless
    ``OMP_NUM_THREADS`` is set: N workers of one host would otherwise each start one thread per
    core and slow each other down. ``import gluon_caps`` calls it, before MXNet loads OpenMP (a
    process that imported MXNet first must set ``OMP_NUM_THREADS`` itself)."""
    workers_here = int(environ.get("HOROVOD_LOCAL_SIZE", "1") or 1)
    if workers_here > 1:
        environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers_here)))
