r"""Fused CPU operators for capsule layers, and when the layers use them.

MXNet 1.9's CPU ``batch_dot`` runs one single-threaded BLAS call per matrix, so the predictions
:math:`\hat u` and the matrix-vector products of routing over them run on one core, and bringing
:math:`\hat u` into routing's layout costs a 4-D transpose. Operators written for this replace
them on CPU (see ``capsule_ops.cc``), with OpenMP threads (``OMP_NUM_THREADS``, else every
core). Three route from the input capsules and the transforms without ever storing the
predictions, which they recompute where they need them, in the forward and the backward pass:
a :class:`~gluon_caps.nn.DenseCaps` with :class:`~gluon_caps.nn.DynamicRouting` uses them, so
that no ``(batch, num_in, num_out, dim_out)`` array exists in its graph
(:func:`~gluon_caps.nn.route_from_capsules`):

- ``caps_routed_sum(c, u, W)``: couplings ``(B, n, J)``, capsules ``(B, n, d)`` and transforms
  ``(n, J, D, d)`` give :math:`s_{bj} = \sum_i c_{bij} W_{ij} u_{bi}` of shape ``(B, J, D)``;
- ``caps_routed_agreement(u, W, v)``: capsules, transforms and output capsules ``(B, J, D)``
  give :math:`a_{bij} = u_{bi} \cdot W_{ij}^T v_{bj}` of shape ``(B, n, J)``;
- ``caps_routed_step(b, u, W, v)``: one routing iteration after the first, from the logits
  ``(B, n, J)`` and the output capsules of the iteration before, in one pass over the pairs
  (one recomputation of each prediction where an agreement and a weighted sum take two): the
  logits plus the agreements :math:`b' = b + a`, the couplings
  :math:`c = \mathrm{softmax}_j(b')` and the weighted sum :math:`s` of them. Its agreement is
  detached: gradients reach :math:`u` and :math:`W` through :math:`s` with :math:`c` held
  constant, which is the gradient of routing with ``detach_intermediate`` (the default), where
  routing uses it.

Their gradients are one pass each over the pairs :math:`(i, j)` (threads split the input
capsules, so that the gradient of :math:`W` needs no atomics). ``caps_routed_sum_detached``,
``caps_routed_agreement_detached`` and ``caps_routed_step_detached`` (which does not output
:math:`c`) are the same forward passes without a backward pass, for the routing iterations
that back-propagation skips (``detach_intermediate``): their outputs are detached, so that
MXNet gives their inputs zero gradients without computing anything and no detached copy of
:math:`W` is needed. Three routing iterations are then three passes: a detached weighted sum, a
detached step and a step; with ``detach_intermediate=False`` routing uses the sums and
agreements, five passes.

Three more serve the blocks that do hold predictions (a
:class:`~gluon_caps.nn.CapsulePredictions` or :class:`~gluon_caps.nn.DynamicRouting` used
alone); each reads or writes :math:`\hat u` once:

- ``caps_predictions(u, W)``: capsules ``(B, n, d)`` and transforms ``(n, J, D, d)`` give
  :math:`\hat u_{bjn} = W_{nj} u_{bn}` of shape ``(B, J, n, D)``, routing's layout;
- ``caps_weighted_sum(c, u)``: couplings ``(M, n)`` and predictions ``(M, n, D)`` give
  :math:`s_m = \sum_i c_{mi} u_{mi}` of shape ``(M, D)``;
- ``caps_agreement(u, v)``: predictions ``(M, n, D)`` and capsules ``(M, D)`` give
  :math:`a_{mi} = u_{mi} \cdot v_m` of shape ``(M, n)``.

The gradients of the last two are each other and an outer product. All take float32 or float64
inputs, all of one type.

They live in an MXNet extension library (``mx.library.load``) that is compiled with the machine's
C++ compiler on first use and cached (:func:`gluon_caps.ops.build.cache_dir`). Creating a block
builds and loads nothing: a capsule layer decides when it builds its graph (the first call after
``hybridize()``, or each imperative call), and loads the library then if it uses them. The
layer's ``fused`` argument chooses, or leaves the choice to ``GLUON_CAPS_FUSED_OPS``:

=========  ========================  =====================================================
``fused``  ``GLUON_CAPS_FUSED_OPS``  the layer uses
=========  ========================  =====================================================
``None``   ``auto`` (the default)    the fused operators when no GPU is visible and they
                                     build; otherwise ``batch_dot``, with one warning saying
                                     why
``None``   ``1``                     the fused operators, or an :class:`OpsBuildError`
``None``   ``0``                     ``batch_dot``
``True``   any                       the fused operators, or an :class:`OpsBuildError`
``False``  any                       ``batch_dot``
=========  ========================  =====================================================

Inside :func:`portable` the layers always use ``batch_dot``. :func:`load_for_block` loads them
for a network at a time of the caller's choosing.

The ``export`` of gluon-caps' networks and capsule layers writes standard MXNet operators only
(:func:`export_portable`), so the graph loads in any MXNet; ``export(..., fused=True)`` writes the
graph as built, which then needs :func:`load` (or :func:`load_for_symbol`) before
``SymbolBlock.imports``.
"""
import contextlib
import json
import os
import threading
import warnings

from ..errors import ConfigError
from .build import OpsBuildError, build_library

__all__ = ["OpsBuildError", "ENV_VAR", "FUSED_OPERATORS", "load", "load_for_symbol",
           "load_for_block", "fused_routing", "portable", "export_portable"]

ENV_VAR = "GLUON_CAPS_FUSED_OPS"
FUSED_OPERATORS = ("caps_predictions", "caps_weighted_sum", "caps_agreement", "caps_routed_sum",
                   "caps_routed_agreement", "caps_routed_step", "caps_routed_sum_detached",
                   "caps_routed_agreement_detached", "caps_routed_step_detached")
_MODES = {"auto": "auto", "": "auto", "1": "on", "on": "on", "true": "on",
          "0": "off", "off": "off", "false": "off"}
_loaded = {"path": None, "error": None, "warned": False}
_portable = threading.local()
# The attributes in which a MXNet 1.9 HybridBlock keeps the symbol of its cached graph.
_GRAPH_FIELDS = ("_cached_graph", "_in_format", "_out_format")


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


def load_for_block(block):
    """:func:`load` the fused operators now if a capsule layer of ``block`` (``block`` itself or
    a block inside it with a ``fused`` setting: :class:`~gluon_caps.nn.CapsulePredictions`,
    :class:`~gluon_caps.nn.DynamicRouting`, :class:`~gluon_caps.nn.DenseCaps`) would use them in
    a graph built now.

    The layers load the library themselves when they first build a graph; this loads (and, the
    first time on a machine, compiles) it at a time of the caller's choosing, e.g. before a
    timed or distributed run starts.

    Note for Horovod: a network's first forward pass before ``broadcast_parameters`` must run in
    training mode (``with autograd.train_mode():``), as :func:`gluon_caps.training.build_run`
    does: an inference-mode pass on CPU leaves the convolution weights in oneDNN layouts, which
    the broadcast cannot read ("can't generate TBlob for MKLDNN data").

    Returns
    -------
    bool
        Whether any capsule layer of ``block`` uses them.

    Raises
    ------
    OpsBuildError
        A layer requires them (``fused=True`` or ``GLUON_CAPS_FUSED_OPS=1``) and they cannot be
        built or loaded here.
    """
    blocks = []
    block.apply(blocks.append)
    settings = {layer.fused for layer in blocks if hasattr(layer, "fused")}
    return any([fused_routing(fused) for fused in settings])


@contextlib.contextmanager
def portable():
    """Build capsule-layer graphs with standard MXNet operators only, within this context,
    whatever the layers' ``fused`` says.

    Examples
    --------
    >>> with gluon_caps.ops.portable():
    ...     net(x)                      # batch_dot, as on a GPU
    """
    depth = getattr(_portable, "depth", 0)
    _portable.depth = depth + 1
    try:
        yield
    finally:
        _portable.depth = depth


def fused_routing(fused=None):
    """Whether a capsule-layer graph built now uses the fused operators (loading them if so).

    Parameters
    ----------
    fused : bool or None, default None
        The layer's setting: ``True`` requires them, ``False`` declines them, ``None`` leaves it
        to ``GLUON_CAPS_FUSED_OPS``. Inside :func:`portable` the answer is always no.

    Raises
    ------
    ConfigError
        ``fused`` is not ``None``, ``True`` or ``False``, or it is ``None`` and
        ``GLUON_CAPS_FUSED_OPS`` is not ``auto``, ``1`` or ``0``.
    OpsBuildError
        ``fused=True`` (or ``None`` with ``GLUON_CAPS_FUSED_OPS=1``) and the operators cannot be
        built or loaded.
    """
    if fused not in (None, True, False):
        raise ConfigError("fused must be None, True or False, got %r" % (fused,))
    mode = _mode() if fused is None else ("on" if fused else "off")
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


def _graph_arguments(block):
    """The arguments of the call that built ``block``'s cached graph, as its input symbols (in
    MXNet's format of the flattened inputs, -1 is an omitted input)."""
    symbols = iter(block._cached_graph[0])

    def arguments(fmt):
        if isinstance(fmt, int):
            return None if fmt == -1 else next(symbols)
        return [arguments(part) for part in fmt]
    return arguments(block._in_format)


def export_portable(block, path, epoch=0, remove_amp_cast=True):
    """``HybridBlock.export`` with standard MXNet operators only, for any hybridized block.

    The graph of the block's last call is built again inside :func:`portable` and written as
    ``PATH-symbol.json`` with the parameters as ``PATH-EEEE.params``, so it loads in an MXNet
    that never loaded the fused operators. The block keeps its own graph: it runs and trains on
    as before. gluon-caps' networks and capsule layers export this way by default
    (:class:`~gluon_caps.nn.PortableExport`); call this for a Gluon container of capsule layers.

    Parameters
    ----------
    block : HybridBlock
        Hybridized and called at least once, as ``export`` needs.
    path : str
        Path prefix of the two files.
    epoch : int, default 0
        Number in the parameter file's name.
    remove_amp_cast : bool, default True
        As in ``HybridBlock.export``.

    Examples
    --------
    >>> net = gluon.nn.HybridSequential()
    >>> net.add(PrimaryCaps(8, 4, 5, 2, in_channels=1), DenseCaps(288, 4, 10, 8))
    >>> net.initialize()
    >>> net.hybridize()
    >>> v = net(mx.nd.zeros((1, 1, 16, 16)))           # 8 x 6 x 6 = 288 primary capsules
    >>> gluon_caps.ops.export_portable(net, "caps")     # caps-symbol.json, caps-0000.params
    """
    from mxnet import gluon
    if not block._cached_graph:
        raise RuntimeError("call %s.hybridize() and run it once before exporting it"
                           % type(block).__name__)
    saved = {field: getattr(block, field) for field in _GRAPH_FIELDS}
    arguments = _graph_arguments(block)
    try:
        block._cached_graph = ()
        with portable():
            block._get_graph(*arguments)        # the same graph, with batch_dot
        gluon.HybridBlock.export(block, path, epoch, remove_amp_cast)
    finally:
        for field, value in saved.items():
            setattr(block, field, value)
