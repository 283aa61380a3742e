"""Routing-by-agreement between capsule layers."""
import mxnet as mx
from mxnet import gluon

from ..errors import check_int
from ..ops import fused_routing
from .functional import squash
from .portable import PortableExport

__all__ = ["DynamicRouting", "route_by_agreement", "route_from_capsules", "graph_parameter"]


def _by_input(F, per_output, like):
    """``(B*J, N)`` values -> ``(B, N, J)``, the logits layout."""
    grid = F.reshape_like(per_output, like, lhs_begin=0, lhs_end=1,
                          rhs_begin=0, rhs_end=2)                             # (B, J, N)
    return F.transpose(grid, axes=(0, 2, 1))                                  # (B, N, J)


def _weighted_sum(F, c, u, fused):
    """:math:`s = \\sum_i c_i u_i` for rows of couplings and predictions."""
    if fused:
        return F.caps_weighted_sum(c, u)                                      # (B*J, D)
    s = F.batch_dot(F.expand_dims(c, axis=1), u)                              # (B*J, 1, D)
    return F.reshape(s, shape=(0, -1))                                        # (B*J, D)


def _agreement(F, u, v, fused):
    """:math:`a_i = u_i \\cdot v` for rows of predictions and capsules."""
    if fused:
        return F.caps_agreement(u, v)                                         # (B*J, n)
    a = F.batch_dot(u, F.expand_dims(v, axis=2))                              # (B*J, n, 1)
    return F.reshape(a, shape=(0, -1))                                        # (B*J, n)


def graph_parameter(param, like):
    """``param`` in the graph being built with ``like`` (a Symbol, or an NDArray on the context
    to read it on): for a parent block's ``hybrid_forward`` that reads a child's parameter."""
    return param.var() if isinstance(like, mx.sym.Symbol) else param.data(like.context)


def _coupling(F, logits, zeros):
    """:math:`c = \\mathrm{softmax}_j(b)` over the output capsules, the last axis of the logits
    ``(B, n, J)``; ``zeros()`` gives :math:`b = 0` before the first agreement."""
    return F.softmax(zeros() if logits is None else logits, axis=-1)              # (B, n, J)


class _Source(object):
    """What routing reads its input through: the weighted sum (:meth:`weighted_sum`) and the
    agreements (:meth:`agreement`), and an iteration after the first made of both."""

    def update(self, logits, v, detach_agreement, detach):
        """An iteration after the first: the logits ``(B, n, J)`` plus the agreements with the
        output capsules ``v`` of the iteration before, and the couplings and :math:`s_j` of
        :meth:`weighted_sum` for them."""
        agreement = self.agreement(v, detach_agreement)                            # (B, n, J)
        logits = agreement if logits is None else logits + agreement              # (B, n, J)
        coupling, s = self.weighted_sum(logits, detach)                  # (B, n, J), (B, J, D)
        return logits, coupling, s


class _Predictions(_Source):
    """What routing needs of the predictions ``u_hat`` laid out ``(B, J, N, D)``: the weighted
    sum and the agreements, with ``batch_dot`` or the fused operators over predictions
    (``fused``)."""

    def __init__(self, F, u_hat, fused):
        self._F, self._u_hat, self._fused = F, u_hat, fused
        self._detached = None

    def _predictions(self, detach):
        """The predictions, or their detached copy (made once, when first asked for)."""
        if not detach:
            return self._u_hat
        if self._detached is None:
            self._detached = self._F.stop_gradient(self._u_hat)
        return self._detached

    def weighted_sum(self, logits, detach):
        """Couplings ``(B, N, J)`` of the logits and :math:`s_j` ``(B, J, D)``."""
        F, u_hat = self._F, self._predictions(detach)                              # (B, J, N, D)

        def zeros():                        # shaped without reading the predictions
            zero = F.zeros_like(F.slice(u_hat, begin=(0, 0, 0, 0), end=(1, 1, 1, 1)))
            zeros = F.broadcast_like(zero, u_hat, lhs_axes=(0, 1, 2),
                                     rhs_axes=(0, 1, 2))                           # (B, J, n, 1)
            return F.transpose(F.reshape(zeros, shape=(0, 0, -3)), axes=(0, 2, 1))  # (B, n, J)
        coupling = _coupling(F, logits, zeros)                                     # (B, n, J)
        c_flat = F.reshape(F.transpose(coupling, axes=(0, 2, 1)), shape=(-3, -2))  # (B*J, n)
        u_flat = F.reshape(u_hat, shape=(-3, -2))                                  # (B*J, n, D)
        s = _weighted_sum(F, c_flat, u_flat, self._fused)                          # (B*J, D)
        return coupling, F.reshape_like(s, u_hat, lhs_begin=0, lhs_end=1,
                                        rhs_begin=0, rhs_end=2)                    # (B, J, D)

    def agreement(self, v, detach):
        """:math:`\\hat u_{j|i} \\cdot v_j` ``(B, N, J)``."""
        F, u_hat = self._F, self._predictions(detach)                              # (B, J, N, D)
        u_flat = F.reshape(u_hat, shape=(-3, -2))                                  # (B*J, n, D)
        v_flat = F.reshape(v, shape=(-3, -2))                                      # (B*J, D)
        return _by_input(F, _agreement(F, u_flat, v_flat, self._fused), u_hat)     # (B, n, J)


class _Capsules(_Source):
    """What routing needs of the input capsules ``u`` ``(B, n, d)`` and the transforms ``weight``
    ``(n, J, D, d)``, computed by the fused operators that never store the predictions. Detached
    passes use the operators without a backward pass and detach their (small) outputs, so that
    MXNet neither copies ``u`` and ``weight`` nor builds a backward pass for them."""

    def __init__(self, F, u, weight):
        self._F, self._u, self._weight = F, u, weight

    def _routed(self, name, detach, *inputs):
        F = self._F
        if detach:
            return F.stop_gradient(getattr(F, name + "_detached")(*inputs))
        return getattr(F, name)(*inputs)

    def _zero_logits(self):
        F, u, weight = self._F, self._u, self._weight
        per_input = F.zeros_like(F.slice_axis(u, axis=2, begin=0, end=1))          # (B, n, 1)
        per_output = F.slice(weight, begin=(0, 0, 0, 0), end=(1, None, 1, 1))      # (1, J, 1, 1)
        return F.broadcast_like(per_input, F.reshape(per_output, shape=(1, 1, -1)),
                                lhs_axes=(2,), rhs_axes=(2,))                      # (B, n, J)

    def weighted_sum(self, logits, detach):
        """Couplings ``(B, n, J)`` of the logits and :math:`s_j` ``(B, J, D)``."""
        coupling = _coupling(self._F, logits, self._zero_logits)                   # (B, n, J)
        return coupling, self._routed("caps_routed_sum", detach, coupling, self._u,
                                      self._weight)                                # (B, J, D)

    def agreement(self, v, detach):
        """:math:`u_i \\cdot W_{ij}^T v_j` ``(B, n, J)``."""
        return self._routed("caps_routed_agreement", detach, self._u, self._weight, v)  # (B, n, J)

    def update(self, logits, v, detach_agreement, detach):
        """As :meth:`_Source.update`; with the agreement detached, one fused operator
        (``caps_routed_step``) computes the agreement, the softmax and the weighted sum from one
        recomputation of each prediction, and only :math:`s_j` carries gradients. A detached
        iteration (never the last) gives no couplings: ``None``."""
        if not detach_agreement:
            return super().update(logits, v, detach_agreement, detach)
        F = self._F
        inputs = (F.stop_gradient(self._zero_logits() if logits is None else logits), self._u,
                  self._weight, F.stop_gradient(v))
        if detach:
            logits, s = F.caps_routed_step_detached(*inputs)            # (B, n, J), (B, J, D)
            return F.stop_gradient(logits), None, F.stop_gradient(s)
        logits, coupling, s = F.caps_routed_step(*inputs)    # (B, n, J), (B, n, J), (B, J, D)
        return F.stop_gradient(logits), F.stop_gradient(coupling), s


def _procedure_1(F, source, num_routing, detach_intermediate, bias):
    """Procedure 1 over the input capsules of ``source`` (:class:`_Predictions` or
    :class:`_Capsules`). Each iteration after the first is one ``update`` of the source: the
    agreement with the output capsules of the iteration before, then the weighted sum. With
    ``detach_intermediate`` the iterations before the last see detached inputs and bias, so
    that the couplings of the last one are constants to back-propagation. Returns ``v``
    ``(B, J, D)`` and the couplings of the last iteration ``(B, N, J)``."""
    if bias is not None:
        bias = F.expand_dims(bias, axis=0)                                         # (1, J, D)
        detached_bias = F.stop_gradient(bias) if detach_intermediate else bias
    v = None
    for iteration in range(num_routing):
        detach = detach_intermediate and iteration < num_routing - 1
        if v is None:
            logits = None
            coupling, s = source.weighted_sum(None, detach)            # (B, N, J), (B, J, D)
        else:                  # the agreement belongs to the iteration before, and its detach
            logits, coupling, s = source.update(logits, v, detach_intermediate, detach)
        if bias is not None:
            s = F.broadcast_add(s, detached_bias if detach else bias)              # (B, J, D)
        v = squash(F, s)                                                           # (B, J, D)
    return v, coupling


def route_by_agreement(F, u_hat, num_routing, detach_intermediate=True, fused=None,
                       bias=None):
    r"""Procedure 1 of the paper over the predictions.

    The weighted sums and agreements use the fused operators of :mod:`gluon_caps.ops` over
    predictions when :func:`gluon_caps.ops.fused_routing` says so at the time the graph is
    built (loading them then). :func:`route_from_capsules` routes without predictions.

    Parameters
    ----------
    F : module
        ``mx.nd`` or ``mx.sym``.
    u_hat : NDArray or Symbol
        The predictions :math:`\hat u_{j|i}` laid out ``(batch, num_out, num_in, dim_out)``.
    num_routing : int
        Number of routing iterations.
    detach_intermediate : bool
        Use detached predictions in all but the last iteration, so that gradients flow through
        the last iteration only.
    fused : bool or None
        Use the fused operators (``True``), ``batch_dot`` (``False``), or leave the choice to
        ``GLUON_CAPS_FUSED_OPS`` (``None``); see :mod:`gluon_caps.ops`.
    bias : NDArray or Symbol, optional
        Routing bias ``(num_out, dim_out)`` added to :math:`s_j` before the squash.

    Returns
    -------
    v : NDArray or Symbol
        Output capsules ``(batch, num_out, dim_out)``.
    coupling : NDArray or Symbol
        Coupling coefficients of the last iteration ``(batch, num_in, num_out)``.
    """
    return _procedure_1(F, _Predictions(F, u_hat, fused_routing(fused)), num_routing,
                        detach_intermediate, bias)


def route_from_capsules(F, u, weight, num_routing, detach_intermediate=True, bias=None):
    r"""Procedure 1 of the paper from the input capsules and the transforms, never storing the
    predictions :math:`\hat u_{j|i} = W_{ij} u_i`.

    The weighted sums and agreements are fused operators of :mod:`gluon_caps.ops` (which must
    be loaded: :func:`gluon_caps.ops.load`):

    .. math::
        s_j = \sum_i c_{ij} W_{ij} u_i, \qquad
        \hat u_{j|i} \cdot v_j = u_i \cdot (W_{ij}^T v_j)

    With ``detach_intermediate`` each iteration after the first is one operator,
    ``caps_routed_step``: the agreement with the previous output capsules, the softmax and the
    weighted sum, from one recomputation of each prediction (three passes over the pairs for
    three iterations, where separate sums and agreements take five); otherwise
    ``caps_routed_sum`` and ``caps_routed_agreement``, so that gradients also flow through
    every agreement. The operators recompute each prediction where they need it, in the forward
    and the backward pass, so
    the graph holds the logits and couplings ``(batch, num_in, num_out)`` and the capsules, not
    the ``(batch, num_in, num_out, dim_out)`` predictions. Values and gradients are those of
    :func:`route_by_agreement` over the predictions.

    Parameters
    ----------
    u : NDArray or Symbol
        Input capsules ``(batch, num_in, dim_in)``.
    weight : NDArray or Symbol
        Transforms :math:`W` ``(num_in, num_out, dim_out, dim_in)``.
    detach_intermediate : bool
        Back-propagate through the last iteration only: the earlier ones run the fused
        operators without a backward pass on ``u`` and ``weight``, whose outputs are detached
        (so that MXNet builds no backward pass for them and copies neither input).
    F, num_routing, bias
        As in :func:`route_by_agreement`, which also says what is returned: the output
        capsules and the coupling coefficients of the last iteration.
    """
    return _procedure_1(F, _Capsules(F, u, weight), num_routing, detach_intermediate, bias)


class DynamicRouting(PortableExport, gluon.HybridBlock):
    r"""Dynamic routing (Procedure 1 of Sabour et al., 2017, https://arxiv.org/abs/1710.09829).

    Logits :math:`b_{ij}` start at zero; at each iteration

    .. math::
        c_{ij} = \frac{\exp b_{ij}}{\sum_k \exp b_{ik}}, \quad
        s_j = \sum_i c_{ij} \hat u_{j|i} \; (+ \beta_j), \quad
        v_j = \mathrm{squash}(s_j), \quad
        b_{ij} \leftarrow b_{ij} + \hat u_{j|i} \cdot v_j

    The softmax runs over the *output* capsules :math:`j`: the coupling coefficients of each input
    capsule sum to 1. The logits stay ``(batch, num_in, num_out)``, so that the softmax runs over
    the contiguous last axis. Called on predictions, the block lays them out once as
    ``(batch * num_out, num_in, dim)``, so that the weighted sums and the agreements are batched
    matrix-vector products that read :math:`\hat u` once each (see :func:`route_by_agreement`);
    on CPU those products run as the fused operators of :mod:`gluon_caps.ops` (built and loaded
    when the block first builds a graph, or by :func:`gluon_caps.ops.load_for_block`), elsewhere
    as ``batch_dot``; both give the same values and gradients. A :class:`DenseCaps` with this
    routing, on CPU, routes from its input capsules and transforms instead and never stores the
    predictions (:func:`route_from_capsules`). ``export`` writes ``batch_dot`` unless told
    otherwise (:class:`~gluon_caps.nn.PortableExport`).

    Where the paper and the authors' code differ, and what this block follows:

    - *Gradients through earlier iterations.* The paper does not say. The authors' official
      code (``_update_routing`` in ``research/capsules/models/layers/layers.py`` of
      Sarasra/models) back-propagates through every iteration: ``detach_intermediate=False``.
      The default ``True`` stops the gradient through :math:`\hat u` in all but the last
      iteration, so the coupling coefficients act as constants in the backward pass; this is a
      choice of this project, made by widely copied ports too, not something the authors did
      (naturomics/CapsNet-Tensorflow's ``u_hat_stopped = tf.stop_gradient(u_hat)`` since
      November 2017, XifengGuo/CapsNet-Keras from November to December 2017, and PyTorch
      ports that ``detach()`` :math:`\hat u`).
    - *A bias before the squash.* The paper has none; the official code adds a learnt bias
      :math:`\beta_j` of shape ``(num_out, dim_out)`` to :math:`s_j` in every iteration
      (initialised there to 0.1): ``routing_bias=True`` (initialised here to zero).

    The official code's squash also divides by :math:`\|s\|` without :math:`\epsilon`, and it
    offers "leaky" routing; neither is followed here.

    Parameters
    ----------
    num_routing : int, default 3
        Number of routing iterations (the paper's :math:`r`).
    detach_intermediate : bool, default True
        Stop gradients through :math:`\hat u` (and the bias) in all but the last iteration (this
        project's default, see above). ``False`` back-propagates through every iteration, as the
        authors' official code does.
    return_coupling : bool, default False
        Also return the coupling coefficients of the last iteration.
    fused : bool or None, default None
        ``True`` requires the fused operators (an :class:`~gluon_caps.ops.OpsBuildError` at the
        first graph built if they cannot be built), ``False`` uses ``batch_dot``, ``None`` leaves
        the choice to ``GLUON_CAPS_FUSED_OPS`` (see :mod:`gluon_caps.ops`). Nothing is built or
        loaded when the block is created.
    routing_bias : bool, default False
        Add a bias :math:`\beta` of shape ``(num_out, dim_out)``, a parameter ``bias``
        initialised to zero, to :math:`s_j` before the squash in every iteration, as the
        authors' official code does. Needs ``num_out`` and ``dim_out``.
    num_out, dim_out : int, optional
        Number and dimension of the output capsules: the shape of the bias.

    Inputs:
        - **u_hat**: predictions :math:`\hat u_{j|i}`, shape ``(batch, num_in, num_out, dim_out)``.

    Outputs:
        - **v**: output capsules, shape ``(batch, num_out, dim_out)``.
        - **coupling** (only with ``return_coupling``): :math:`c_{ij}`, shape
          ``(batch, num_in, num_out)``; sums to 1 over ``num_out``.
    """

    def __init__(self, num_routing=3, detach_intermediate=True, return_coupling=False,
                 fused=None, routing_bias=False, num_out=None, dim_out=None, **kwargs):
        super(DynamicRouting, self).__init__(**kwargs)
        self._num_routing = check_int("num_routing", num_routing, 1)
        self._detach_intermediate = detach_intermediate
        self._return_coupling = return_coupling
        self.fused = fused
        self.bias = None
        if routing_bias:
            shape = tuple(check_int("%s (the shape of the routing bias)" % name, value, 1)
                          for name, value in (("num_out", num_out), ("dim_out", dim_out)))
            with self.name_scope():
                self.bias = self.params.get("bias", shape=shape, init="zeros")

    def bias_in_graph(self, like):
        """The routing bias (``None`` without one) in the graph a parent block builds with
        ``like``, to pass to :meth:`route` or :meth:`route_capsules`."""
        return None if self.bias is None else graph_parameter(self.bias, like)

    def _outputs(self, v, coupling):
        return (v, coupling) if self._return_coupling else v

    def route(self, F, u_hat, bias=None):
        """Route predictions laid out ``(batch, num_out, num_in, dim_out)`` (see
        :func:`route_by_agreement`) with this block's settings and ``bias``
        (:meth:`bias_in_graph`); returns what the block returns."""
        return self._outputs(*route_by_agreement(F, u_hat, self._num_routing,
                                                 self._detach_intermediate, self.fused, bias))

    def route_capsules(self, F, u, weight, bias=None):
        """Route from input capsules ``(batch, num_in, dim_in)`` and transforms
        ``(num_in, num_out, dim_out, dim_in)`` without storing the predictions (see
        :func:`route_from_capsules`) with this block's settings and ``bias``; returns what the
        block returns."""
        return self._outputs(*route_from_capsules(F, u, weight, self._num_routing,
                                                  self._detach_intermediate, bias))

    def hybrid_forward(self, F, u_hat, bias=None):
        u_hat = F.transpose(u_hat, axes=(0, 2, 1, 3))                              # (B, J, N, D)
        return self.route(F, u_hat, bias)

    def __repr__(self):
        return "{}(num_routing={}, detach_intermediate={}{})".format(
            self.__class__.__name__, self._num_routing, self._detach_intermediate,
            "" if self.bias is None else ", routing_bias=True")
