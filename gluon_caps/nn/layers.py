"""Capsule layers: convolutional primary capsules and fully connected capsules with routing."""
import mxnet as mx
from mxnet import gluon

from ..errors import ConfigError, check_int
from ..ops import fused_routing
from .functional import squash
from .portable import PortableExport
from .routing import DynamicRouting, graph_parameter

__all__ = ["Squash", "PrimaryCaps", "CapsulePredictions", "DenseCaps"]


class Squash(gluon.HybridBlock):
    """Block form of :func:`gluon_caps.nn.squash` over the last axis.

    Parameters
    ----------
    eps : float
        Added to the squared norm inside the square root.

    Inputs:
        - **s**: capsule vectors ``(..., capsule_dim)``.

    Outputs:
        - **v**: squashed vectors, same shape.
    """

    def __init__(self, eps=1e-7, **kwargs):
        super(Squash, self).__init__(**kwargs)
        self._eps = eps

    def hybrid_forward(self, F, s):
        return squash(F, s, axis=-1, eps=self._eps)


class PrimaryCaps(gluon.HybridBlock):
    """Convolutional capsules: a convolution whose output channels are grouped into capsules.

    The convolution has ``channels * capsule_dim`` filters; each of the ``channels`` capsule types
    yields one ``capsule_dim``-dimensional capsule per output position, squashed. Capsules are
    ordered type-major, then row, then column (so ``reshape(channels, H, W)`` recovers the grid).

    Parameters
    ----------
    channels : int
        Number of capsule types (the paper's 32).
    capsule_dim : int
        Dimension of each capsule (the paper's 8).
    kernel_size : int or tuple of int
        Convolution kernel (the paper's 9).
    strides : int or tuple of int
        Convolution stride (the paper's 2).
    in_channels : int, default 0
        Input channels; 0 defers the shape until the first forward pass.
    weight_initializer : str or Initializer, optional
        Initializer of the convolution weight.

    Inputs:
        - **x**: feature maps ``(batch, in_channels, height, width)``.

    Outputs:
        - **u**: capsules ``(batch, channels * out_height * out_width, capsule_dim)``.
    """

    def __init__(self, channels, capsule_dim, kernel_size, strides, in_channels=0,
                 weight_initializer=None, **kwargs):
        super(PrimaryCaps, self).__init__(**kwargs)
        self._channels = channels
        self._capsule_dim = capsule_dim
        with self.name_scope():
            self.conv = gluon.nn.Conv2D(channels * capsule_dim, kernel_size, strides,
                                        in_channels=in_channels,
                                        weight_initializer=weight_initializer)

    def hybrid_forward(self, F, x):
        x = self.conv(x)                                                     # (B, T*d, H, W)
        x = F.reshape(x, shape=(0, -4, self._channels, self._capsule_dim, -2))  # (B, T, d, H, W)
        x = F.transpose(x, axes=(0, 1, 3, 4, 2))                             # (B, T, H, W, d)
        x = F.reshape(x, shape=(0, -1, self._capsule_dim))                   # (B, T*H*W, d)
        return squash(F, x)                                                  # (B, N, d)


class CapsulePredictions(PortableExport, gluon.HybridBlock):
    r"""Predictions of every output capsule by every input capsule:
    :math:`\hat u_{j|i} = W_{ij} u_i`.

    One transform matrix :math:`W_{ij}` of shape ``(dim_out, dim_in)`` per pair; the predictions
    of all pairs are one batched matrix product per input capsule (a
    ``(batch, dim_in) x (dim_in, num_out * dim_out)`` GEMM for each :math:`i`), not a
    broadcast-multiply-and-sum over a 5-D tensor. On CPU they are the fused operator
    ``caps_predictions`` of :mod:`gluon_caps.ops`, which writes them straight into routing's
    layout (:func:`gluon_caps.ops.fused_routing`); elsewhere ``batch_dot`` and a transpose. No
    bias, as in the paper. ``export`` writes ``batch_dot`` unless told otherwise
    (:class:`~gluon_caps.nn.PortableExport`).

    Parameters
    ----------
    num_in, dim_in : int
        Number and dimension of the input capsules.
    num_out, dim_out : int
        Number and dimension of the output capsules.
    weight_initializer : str or Initializer, default ``Normal(0.01)``
        Initializer of :math:`W`, a parameter of shape ``(num_in, num_out, dim_out, dim_in)``.
    fused : bool or None, default None
        ``True`` requires the fused operator (an :class:`~gluon_caps.ops.OpsBuildError` at the
        first graph built if it cannot be built), ``False`` uses ``batch_dot``, ``None`` leaves
        the choice to ``GLUON_CAPS_FUSED_OPS`` (see :mod:`gluon_caps.ops`). Nothing is built or
        loaded when the block is created.

    Inputs:
        - **u**: input capsules ``(batch, num_in, dim_in)``.

    Outputs:
        - **u_hat**: predictions ``(batch, num_in, num_out, dim_out)``.
    """

    def __init__(self, num_in, dim_in, num_out, dim_out, weight_initializer=None, fused=None,
                 **kwargs):
        super(CapsulePredictions, self).__init__(**kwargs)
        for name, value in (("num_in", num_in), ("dim_in", dim_in), ("num_out", num_out),
                            ("dim_out", dim_out)):
            check_int(name, value, 1)
        self.num_in, self.num_out, self._dim_out = num_in, num_out, dim_out
        self.fused = fused
        with self.name_scope():
            self.weight = self.params.get(
                "weight", shape=(num_in, num_out, dim_out, dim_in),
                init=weight_initializer or mx.init.Normal(0.01))

    def by_output(self, F, u):
        """The predictions laid out ``(batch, num_out, num_in, dim_out)``, the layout routing
        works in. For a parent block's ``hybrid_forward``: reads this block's weight into the
        parent's graph."""
        weight = graph_parameter(self.weight, u)                              # (N, J, D, d)
        if fused_routing(self.fused):
            return F.caps_predictions(u, weight)                               # (B, J, N, D)
        u_hat = self._by_input_capsule(F, u, weight)                           # (N, B, J, D)
        return F.transpose(u_hat, axes=(1, 2, 0, 3))                          # (B, J, N, D)

    def _by_input_capsule(self, F, u, weight):
        u = F.transpose(u, axes=(1, 0, 2))                                    # (n, B, d)
        weight = F.reshape(weight, shape=(0, -3, 0))                          # (n, J*D, d)
        u_hat = F.batch_dot(u, weight, transpose_b=True)                      # (n, B, J*D)
        return F.reshape(u_hat, shape=(0, 0, -4, self.num_out, self._dim_out))  # (n, B, J, D)

    def hybrid_forward(self, F, u, weight):
        if fused_routing(self.fused):
            u_hat = F.caps_predictions(u, weight)                              # (B, J, N, D)
            return F.transpose(u_hat, axes=(0, 2, 1, 3))                      # (B, N, J, D)
        u_hat = self._by_input_capsule(F, u, weight)                           # (N, B, J, D)
        return F.transpose(u_hat, axes=(1, 0, 2, 3))                          # (B, N, J, D)


class DenseCaps(PortableExport, gluon.HybridBlock):
    r"""Fully connected capsule layer: per-pair transforms (:class:`CapsulePredictions`), then
    routing.

    With :class:`DynamicRouting` (the default) and the fused operators of :mod:`gluon_caps.ops`
    (on CPU, when both its predictions and its routing use them), the layer routes from its
    input capsules and the transforms directly (:func:`~gluon_caps.nn.route_from_capsules`): the
    predictions :math:`\hat u_{j|i}`, ``batch * num_in * num_out * dim_out`` floats, exist
    nowhere in its graph, in training or in inference, which holds ``batch * num_in * num_out``
    logits and couplings instead. Elsewhere (a GPU, ``fused=False``, inside
    :func:`gluon_caps.ops.portable`, the graph that ``export`` writes) it computes the
    predictions with ``batch_dot`` and routes over them. Either way the parameters, values and
    gradients are the same.

    Parameters
    ----------
    num_in : int
        Number of input capsules (1,152 for the paper's MNIST model).
    dim_in : int
        Dimension of the input capsules.
    num_out : int
        Number of output capsules (classes).
    dim_out : int
        Dimension of the output capsules.
    routing : HybridBlock, optional
        Default ``DynamicRouting(3, fused=fused, routing_bias=routing_bias)``. Any other block
        receives the predictions ``(batch, num_in, num_out, dim_out)`` and returns the capsules;
        a :class:`DynamicRouting` given keeps its own settings.
    weight_initializer : str or Initializer, default ``Normal(0.01)``
        Initializer of the transforms :math:`W`.
    fused : bool or None, default None
        Whether the predictions (and the default routing) use the fused operators of
        :mod:`gluon_caps.ops`: see :class:`CapsulePredictions`.
    routing_bias : bool, default False
        Give the default routing a bias before the squash, as the authors' official code does
        (see :class:`DynamicRouting`): a parameter ``routing.bias`` of shape
        ``(num_out, dim_out)``.

    Inputs:
        - **u**: input capsules ``(batch, num_in, dim_in)``.

    Outputs:
        - whatever ``routing`` returns; by default **v** ``(batch, num_out, dim_out)``.
    """

    def __init__(self, num_in, dim_in, num_out, dim_out, routing=None,
                 weight_initializer=None, fused=None, routing_bias=False, **kwargs):
        super(DenseCaps, self).__init__(**kwargs)
        if routing is not None and routing_bias:
            raise ConfigError("routing_bias is for the default routing; give "
                              "DynamicRouting(routing_bias=True, num_out=..., dim_out=...) as "
                              "routing instead")
        with self.name_scope():
            self.predictions = CapsulePredictions(num_in, dim_in, num_out, dim_out,
                                                  weight_initializer=weight_initializer,
                                                  fused=fused)
            self.routing = routing if routing is not None else DynamicRouting(
                fused=fused, routing_bias=routing_bias, num_out=num_out, dim_out=dim_out)

    def stores_predictions(self):
        """Whether a graph built now computes the predictions :math:`\\hat u` (``False``: it
        routes from the capsules with the fused operators; loads them if so)."""
        return not (isinstance(self.routing, DynamicRouting)
                    and fused_routing(self.predictions.fused) and fused_routing(self.routing.fused))

    def hybrid_forward(self, F, u):
        if not isinstance(self.routing, DynamicRouting):
            return self.routing(self.predictions(u))
        bias = self.routing.bias_in_graph(u)                                       # (J, D)
        if not self.stores_predictions():
            weight = graph_parameter(self.predictions.weight, u)                   # (N, J, D, d)
            return self.routing.route_capsules(F, u, weight, bias)
        u_hat = self.predictions.by_output(F, u)                                   # (B, J, N, D)
        return self.routing.route(F, u_hat, bias)
