r"""Fused CPU operators for capsule layers, and when the layers use them.

MXNet 1.9's CPU ``batch_dot`` runs one single-threaded BLAS call per matrix, so the predictions
:math:`\hat u` and the matrix-vector products of routing over them run on one core, and bringing
:math:`\hat u` into routing's layout costs a 4-D transpose. Three operators written for this
replace them on CPU (see ``capsule_ops.cc``); each reads or writes :math:`\hat u` once, with
OpenMP threads (``OMP_NUM_THREADS``, else every core):

- ``caps_predictions(u, W)``: capsules ``(B, n, d)`` and transforms ``(n, J, D, d)`` give
  :math:`\hat u_{bjn} = W_{nj} u_{bn}` of shape ``(B, J, n, D)``, routing's layout;
- ``caps_weighted_sum(c, u)``: couplings ``(M, n)`` and predictions ``(M, n, D)`` give
  :math:`s_m = \sum_i c_{mi} u_{mi}` of shape ``(M, D)``;
- ``caps_agreement(u, v)``: predictions ``(M, n, D)`` and capsules ``(M, D)`` give
  :math:`a_{mi} = u_{mi} \cdot v_m` of shape ``(M, n)``.

The gradients of the last two are each other and an outer product.

They live in an MXNet extension library (``mx.library.load``) that is compiled with the machine's
C++ compiler on first use and cached (:func:`gluon_caps.ops.build.cache_dir`). A capsule layer
decides when it builds its graph (the first call after ``hybridize()``, or each imperative call):

=================================  ========================================================
``GLUON_CAPS_FUSED_OPS``           the capsule layers use
=================================  ========================================================
``auto`` (default)                 the fused operators when no GPU is visible and they build;
                                   otherwise ``batch_dot``, with one warning saying why
``1``                              the fused operators, or an :class:`OpsBuildError`
``0``                              ``batch_dot``
=================================  ========================================================

Inside :func:`portable` the layers always use ``batch_dot``, so that exported graphs load in any
MXNet (``gluon-caps export`` does this). A graph exported with the fused operators needs
:func:`load` before ``SymbolBlock.imports``.
"""
import contextlib
import json
import os
import threading
import warnings

from ..errors import ConfigError
from .build import OpsBuildError, build_library

__all__ = ["OpsBuildError", "ENV_VAR", "FUSED_OPERATORS", "load", "load_for_symbol",
           "fused_routing", "portable"]

ENV_VAR = "GLUON_CAPS_FUSED_OPS"
FUSED_OPERATORS = ("caps_predictions", "caps_weighted_sum", "caps_agreement")
_MODES = {"auto": "auto", "": "auto", "1": "on", "on": "on", "true": "on",
          "0": "off", "off": "off", "false": "off"}
_loaded = {"path": None, "error": None, "warned": False}
_portable = threading.local()


def _mode():
    value = os.environ.get(ENV_VAR, "auto").strip().lower()
    if value not in _MODES:
        raise ConfigError("%s must be auto, 1 or 0, got %r"
                          % (ENV_VAR, os.environ[ENV_VAR]))
    return _MODES[value]


def load():
    """Build the fused operators if needed and load them into MXNet (once per process).

    Returns
    -------
    str
        Path of the loaded library.

    Raises
    ------
    OpsBuildError
        They cannot be built or loaded here; the message says why.
    """
    if _loaded["path"] is None and _loaded["error"] is None:
        import mxnet as mx
        try:
            path = build_library()
            try:
                mx.library.load(path, verbose=False)
            except mx.base.MXNetError as error:
                raise OpsBuildError("MXNet cannot load %s: %s"
                                    % (path, str(error).strip().splitlines()[-1]))
            _loaded["path"] = path
        except OpsBuildError as error:
            _loaded["error"] = error
    if _loaded["error"] is not None:
        raise _loaded["error"]
    return _loaded["path"]


def load_for_symbol(path):
    """:func:`load` the fused operators if the exported graph ``path`` (a ``-symbol.json``) uses
    them; a missing or unreadable file is left to the caller that loads it.

    Raises
    ------
    OpsBuildError
        The graph uses them and they cannot be built or loaded here.
    """
    try:
        with open(path) as handle:
            nodes = json.load(handle).get("nodes", [])
    except (OSError, ValueError, AttributeError):
        return
    if any(isinstance(node, dict) and node.get("op") in FUSED_OPERATORS for node in nodes):
        load()


@contextlib.contextmanager
def portable():
    """Build routing graphs with standard MXNet operators only, within this context.

    Examples
    --------
    >>> with gluon_caps.ops.portable():
    ...     net.hybridize()
    ...     net(x)
    ...     net.export("capsnet")
    """
    depth = getattr(_portable, "depth", 0)
    _portable.depth = depth + 1
    try:
        yield
    finally:
        _portable.depth = depth


def fused_routing():
    """Whether a capsule-layer graph built now uses the fused operators (loading them if so).

    Raises
    ------
    ConfigError
        ``GLUON_CAPS_FUSED_OPS`` is not ``auto``, ``1`` or ``0``.
    OpsBuildError
        ``GLUON_CAPS_FUSED_OPS=1`` and the operators cannot be built or loaded.
    """
    mode = _mode()
    if mode == "off" or getattr(_portable, "depth", 0):
        return False
    if mode == "auto":
        import mxnet as mx
        if mx.context.num_gpus() > 0:
            return False
    try:
        load()
    except OpsBuildError as error:
        if mode == "on":
            raise
        if not _loaded["warned"]:
            _loaded["warned"] = True
            warnings.warn("routing uses batch_dot, not the fused CPU operators: %s (set %s=0 "
                          "to choose this without a warning)" % (error, ENV_VAR),
                          RuntimeWarning, stacklevel=2)
        return False
    return True
