r"""Compute dtypes: float32, or the convolutions in bfloat16 (float16 on GPUs) with float32
weights.

One choice, ``dtype``, serves ``gluon-caps evaluate``, ``predict``, ``export`` and ``bench``
(``--dtype``) and ``launch/train.py`` (the configuration field ``dtype``):

============  ======  =====================================================================
``dtype``     device  what computes in low precision
============  ======  =====================================================================
``float32``   any     nothing
``bfloat16``  CPU     the convolutions (with ``dense=True`` the decoder's dense layers too)
                      in bfloat16, on AMX or AVX-512 BF16 (:func:`gluon_caps.amx.bfloat16_kernels`);
                      refused on a CPU with neither, where bfloat16 is only emulated
``bfloat16``  GPU     the same layers in float16, training with dynamic loss scaling
============  ======  =====================================================================

Everything else stays float32: the parameters (the master weights the optimizer updates), the
squash, the predictions and routing (the fused operators of :mod:`gluon_caps.ops` among them:
float32 islands in the graph), the capsule lengths, the masking and the losses.

How: when a hybridized network builds its graph, MXNet's AMP pass
(:func:`mxnet.contrib.amp.convert_symbol`) rewrites it (:func:`set_compute_dtype`): an
``amp_cast`` to bfloat16 before each input of a convolution (its weights included, so the
parameters stay float32 and their gradients come back float32 through the cast) and a cast
back to float32 where a float32 operator reads a bfloat16 result. The same graph serves
inference and training, and the network keeps its class: its methods, checkpoints, calls with
and without a mask and its ``export`` work as in float32.

Neither of MXNet's own entry points fits: ``amp.init`` rewrites every operator function of
``mx.nd`` and ``mx.sym`` for the whole process, and ``mx.library.load``, which loads the fused
operators when the first capsule graph is built, recreates those functions and silently undoes
it; ``amp.convert_hybrid_block`` returns a ``SymbolBlock`` for inference only.

The AMP pass accepts only operators on its lists, so :func:`register_float32_operators` puts
the fused operators (whatever :data:`gluon_caps.ops.FUSED_OPERATORS` holds when a graph is
converted) on its float32 list, once per process: a bfloat16 input of theirs is then cast to
float32 first. (A side effect: ``amp.init`` called afterwards in the same process needs them
loaded, see :func:`gluon_caps.ops.load`.)
"""
import functools

from . import amx
from .errors import ConfigError

__all__ = ["DTYPES", "LOW_PRECISION_OPS", "DENSE_OPS", "NO_BFLOAT16", "compute_dtype",
           "register_float32_operators", "convert_symbol", "set_compute_dtype",
           "inference_network", "TrainingPrecision"]

#: The values of ``--dtype`` and of the configuration field ``dtype``.
DTYPES = ("float32", "bfloat16")
#: Operators that always compute in low precision when ``dtype`` is ``bfloat16``.
LOW_PRECISION_OPS = ("Convolution",)
#: Operators that compute in low precision too with ``dense=True`` (the decoder's layers).
DENSE_OPS = ("FullyConnected",)
#: Why bfloat16 is refused on a CPU where :func:`gluon_caps.amx.bfloat16_kernels` is ``None``.
NO_BFLOAT16 = ("this CPU has neither AMX nor AVX-512 BF16, so bfloat16 would only be emulated, "
               "slower than float32")


def compute_dtype(dtype, ctx=None, option="--dtype"):
    """What the low-precision layers compute in for ``dtype`` on ``ctx`` (default the CPU).

    Returns
    -------
    str
        ``'float32'``, ``'bfloat16'`` (a CPU) or ``'float16'`` (a GPU).

    Raises
    ------
    ConfigError
        ``dtype`` is not one of :data:`DTYPES`, or it is ``bfloat16`` on a CPU with neither AMX
        nor AVX-512 BF16; the message names ``option``.
    """
    if dtype not in DTYPES:
        raise ConfigError("%s must be one of %s, got %r" % (option, ", ".join(DTYPES), dtype))
    if dtype == "float32":
        return "float32"
    if ctx is not None and ctx.device_type == "gpu":
        return "float16"
    if amx.bfloat16_kernels() is None:
        raise ConfigError("%s bfloat16: %s; use %s float32" % (option, NO_BFLOAT16, option))
    return "bfloat16"


def register_float32_operators():
    """Put the fused operators (:data:`gluon_caps.ops.FUSED_OPERATORS` as it is now) on the
    float32 lists of MXNet's AMP pass, bfloat16 and float16, unless they are there.

    Returns
    -------
    list of str
        The operators added now (none the second time).
    """
    from mxnet.contrib.amp import lists
    from .ops import FUSED_OPERATORS
    added = []
    for float32_ops in (lists.symbol_bf16.FP32_FUNCS, lists.symbol_fp16.FP32_FUNCS):
        missing = [name for name in FUSED_OPERATORS if name not in float32_ops]
        float32_ops.extend(missing)
        added.extend(name for name in missing if name not in added)
    return added


def convert_symbol(symbol, data_names, target, dense=False):
    """A float32 graph with its convolutions (and dense layers with ``dense``) computing in
    ``target``, by MXNet's AMP pass; its parameters and inputs stay float32, and so do its
    outputs.

    Parameters
    ----------
    symbol : Symbol
        The graph.
    data_names : list of str
        Its inputs that are data, not parameters.
    target : {'bfloat16', 'float16'}
    dense : bool, default False
        Also the ``FullyConnected`` layers.
    """
    from mxnet.contrib import amp
    register_float32_operators()
    operators = list(LOW_PRECISION_OPS + (DENSE_OPS if dense else ()))
    return amp.convert_symbol(symbol, target, target_dtype_ops=operators,
                              data_names=list(data_names))


def _converted_graph(block, build, target, dense, *args):
    """``HybridBlock._get_graph`` of ``block`` whose new graphs go through
    :func:`convert_symbol` (``build`` is the class's own ``_get_graph``)."""
    if not block._cached_graph:
        inputs, out = build(block, *args)
        block._cached_graph = (inputs, convert_symbol(out, [data.name for data in inputs],
                                                      target, dense))
    return block._cached_graph


def set_compute_dtype(block, dtype, ctx=None, dense=False, option="--dtype"):
    """Make a hybridized block compute in ``dtype`` from its next call on, for inference and
    training alike (see the module's description).

    Its cached graphs are dropped; each graph it builds from now on (a CapsNet builds one per
    pattern of inputs, with and without a mask) is converted when built, and so is the graph
    ``export`` writes (keep its ``amp_cast`` operators with ``remove_amp_cast=False``). The
    parameters stay float32. ``float32`` undoes it.

    Parameters
    ----------
    block : HybridBlock
        Hybridized (``hybridize()`` first: an imperative block would silently compute in
        float32); not a ``SymbolBlock``.
    dtype : {'float32', 'bfloat16'}
    ctx : mxnet.Context, optional
        Where it runs (default the CPU): a GPU computes float16 instead of bfloat16.
    dense : bool, default False
        Also the dense layers (the decoder's).
    option : str
        The option named in errors.

    Returns
    -------
    str
        What it computes in: ``'float32'``, ``'bfloat16'`` or ``'float16'``.

    Raises
    ------
    ConfigError
        A bad ``dtype``, bfloat16 on a CPU without bfloat16 instructions, or a block that is not
        hybridized.

    Examples
    --------
    >>> net = get_model("capsnet_mnist", pretrained=True)
    >>> net.hybridize()
    >>> set_compute_dtype(net, "bfloat16")
    'bfloat16'
    >>> lengths, reconstruction = net(x)        # float32 outputs, bfloat16 convolutions
    """
    from mxnet import gluon
    target = compute_dtype(dtype, ctx, option)
    if isinstance(block, gluon.SymbolBlock):
        raise TypeError("set_compute_dtype converts graphs as they are built; a SymbolBlock's "
                        "graph is given: convert it with gluon_caps.precision.convert_symbol")
    if target != "float32" and not block._active:
        raise ConfigError("%s %s needs a hybridized network (call hybridize() first; not with "
                          "--no-hybridize)" % (option, dtype))
    block.__dict__.pop("_get_graph", None)
    block._clear_cached_op()
    if target != "float32":
        block._get_graph = functools.partial(_converted_graph, block, type(block)._get_graph,
                                             target, dense)
    return target


def inference_network(net, dtype, ctx=None, dense=False, option="--dtype"):
    """Hybridize ``net`` (unless it is) and make it compute in ``dtype``
    (:func:`set_compute_dtype`), as evaluation, prediction and export run it.

    Returns
    -------
    str
        What it computes in: ``'float32'``, ``'bfloat16'`` or ``'float16'``.
    """
    if not net._active:
        net.hybridize()
    return set_compute_dtype(net, dtype, ctx, dense, option)


class TrainingPrecision(object):
    """The backward pass of a training step whose network computes in ``compute``.

    float32 and bfloat16 back-propagate the loss as it is: bfloat16 has float32's exponent
    range, so its gradients neither underflow nor overflow more than float32's. float16 (the
    GPU form of ``dtype`` ``bfloat16``) scales the loss by MXNet AMP's dynamic loss scale
    (:class:`mxnet.contrib.amp.loss_scaler.LossScaler`, attached to the trainer as
    ``amp.init_trainer`` would, without ``amp.init``): the gradients are unscaled in
    ``trainer.step``, which skips a step whose gradients overflow and halves the scale (and
    doubles it after 2,000 steps without an overflow).

    Parameters
    ----------
    trainer : mxnet.gluon.Trainer
        The run's trainer (Horovod's ``DistributedTrainer`` too).
    compute : {'float32', 'bfloat16', 'float16'}
        What :func:`set_compute_dtype` returned.

    Attributes
    ----------
    compute : str
    scales_loss : bool
        Whether gradients are loss-scaled: a step with non-finite gradients is then an
        overflow the trainer skips, not a failure.
    """

    def __init__(self, trainer, compute):
        self.compute = compute
        self.scales_loss = compute == "float16"
        self._trainer = trainer
        if self.scales_loss:
            from mxnet.contrib.amp.loss_scaler import LossScaler
            trainer._amp_loss_scaler = LossScaler()
            trainer._amp_original_scale = trainer._scale

    @property
    def loss_scale(self):
        """The factor the loss is multiplied by before back-propagation (1 without scaling)."""
        return self._trainer._amp_loss_scaler.loss_scale if self.scales_loss else 1.0

    def backward(self, loss):
        """Back-propagate ``loss`` (recorded by ``autograd.record()``), scaled if need be."""
        if not self.scales_loss:
            loss.backward()
            return
        import mxnet as mx
        scale = self.loss_scale
        self._trainer._scale = self._trainer._amp_original_scale / scale
        loss.backward(out_grad=mx.nd.full(loss.shape, scale, ctx=loss.context,
                                          dtype=loss.dtype))
