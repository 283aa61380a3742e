"""Routing-by-agreement between capsule layers."""
from mxnet import gluon

from ..errors import check_int
from ..ops import fused_routing
from .functional import squash
from .portable import PortableExport

__all__ = ["DynamicRouting", "route_by_agreement", "fixed_chunk", "recomputed_chunk"]


def _by_input(F, per_output, like):
    """``(B*J, n)`` values of one chunk -> ``(B, n, J)``, the logits layout."""
    grid = F.reshape_like(per_output, like, lhs_begin=0, lhs_end=1,
                          rhs_begin=0, rhs_end=2)                             # (B, J, n)
    return F.transpose(grid, axes=(0, 2, 1))                                  # (B, n, J)


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


def fixed_chunk(F, u_hat):
    """A chunk of :func:`route_by_agreement` whose predictions are computed once; its detached
    copy too, when first asked for."""
    detached = []

    def chunk(detach):
        if detach and not detached:
            detached.append(F.stop_gradient(u_hat))
        return detached[0] if detach else u_hat
    return chunk


def recomputed_chunk(F, predict):
    """A chunk of :func:`route_by_agreement` that calls ``predict()`` anew each time it is used,
    so that its predictions need not stay alive between uses."""
    return lambda detach: F.stop_gradient(predict()) if detach else predict()


def route_by_agreement(F, chunks, num_routing, detach_intermediate=True, fused=None):
    r"""Procedure 1 of the paper over predictions given in chunks of input capsules.

    The chunks split the input capsules :math:`i`; the weighted sums :math:`s_j` add up over
    chunks, and the softmax and agreement of each input capsule stay inside its chunk, so the
    result does not depend on the split. Each chunk is asked for its predictions when they are
    needed, so a caller can recompute them instead of keeping all of them alive
    (:func:`recomputed_chunk`) or compute them once (:func:`fixed_chunk`). The weighted sums
    and agreements use the fused operators of :mod:`gluon_caps.ops` when
    :func:`gluon_caps.ops.fused_routing` says so at the time the graph is built (loading them
    then).

    Parameters
    ----------
    F : module
        ``mx.nd`` or ``mx.sym``.
    chunks : list of callable
        ``chunks[k](detach)`` returns the predictions :math:`\hat u_{j|i}` of the k-th chunk of
        input capsules laid out ``(batch, num_out, n_k, dim_out)``, cut from the gradient graph
        when ``detach`` is true.
    num_routing : int
        Number of routing iterations.
    detach_intermediate : bool
        Use detached predictions in all but the last iteration, so that gradients flow through
        the last iteration only.
    fused : bool or None
        Use the fused operators (``True``), ``batch_dot`` (``False``), or leave the choice to
        ``GLUON_CAPS_FUSED_OPS`` (``None``); see :mod:`gluon_caps.ops`.

    Returns
    -------
    v : NDArray or Symbol
        Output capsules ``(batch, num_out, dim_out)``.
    coupling : NDArray or Symbol
        Coupling coefficients of the last iteration ``(batch, num_in, num_out)``.
    """
    fused = fused_routing(fused)
    logits = [None] * len(chunks)
    for iteration in range(num_routing):
        detach = detach_intermediate and iteration < num_routing - 1
        couplings, partial_sums = [], []
        for index, chunk in enumerate(chunks):
            u_hat = chunk(detach)                                              # (B, J, n, D)
            if logits[index] is None:        # b = 0, shaped without reading the predictions
                zero = F.zeros_like(F.slice(u_hat, begin=(0, 0, 0, 0), end=(1, 1, 1, 1)))
                zeros = F.broadcast_like(zero, u_hat, lhs_axes=(0, 1, 2),
                                         rhs_axes=(0, 1, 2))                   # (B, J, n, 1)
                logits[index] = F.transpose(F.reshape(zeros, shape=(0, 0, -3)),
                                            axes=(0, 2, 1))                    # (B, n, J)
            couplings.append(F.softmax(logits[index], axis=-1))                # (B, n, J)
            c_flat = F.reshape(F.transpose(couplings[-1], axes=(0, 2, 1)),
                               shape=(-3, -2))                                 # (B*J, n)
            u_flat = F.reshape(u_hat, shape=(-3, -2))                          # (B*J, n, D)
            partial_sums.append(_weighted_sum(F, c_flat, u_flat, fused))       # (B*J, D)
        s = F.add_n(*partial_sums) if len(partial_sums) > 1 else partial_sums[0]  # (B*J, D)
        v_flat = squash(F, s)                                                  # (B*J, D)
        if iteration < num_routing - 1:
            for index, chunk in enumerate(chunks):
                u_hat = chunk(detach)                                          # (B, J, n, D)
                u_flat = F.reshape(u_hat, shape=(-3, -2))                      # (B*J, n, D)
                agreement = _agreement(F, u_flat, v_flat, fused)               # (B*J, n)
                logits[index] = logits[index] + _by_input(F, agreement, u_hat)  # (B, n, J)
    v = F.reshape_like(v_flat, zeros, lhs_begin=0, lhs_end=1,
                       rhs_begin=0, rhs_end=2)                                 # (B, J, D)
    coupling = F.concat(*couplings, dim=1) if len(couplings) > 1 else couplings[0]  # (B, N, J)
    return v, coupling


class DynamicRouting(PortableExport, gluon.HybridBlock):
    r"""Dynamic routing (Procedure 1 of Sabour et al., 2017, https://arxiv.org/abs/1710.09829).

    Logits :math:`b_{ij}` start at zero; at each iteration

    .. math::
        c_{ij} = \frac{\exp b_{ij}}{\sum_k \exp b_{ik}}, \quad
        s_j = \sum_i c_{ij} \hat u_{j|i}, \quad
        v_j = \mathrm{squash}(s_j), \quad
        b_{ij} \leftarrow b_{ij} + \hat u_{j|i} \cdot v_j

    The softmax runs over the *output* capsules :math:`j`: the coupling coefficients of each input
    capsule sum to 1. The predictions are laid out once as ``(batch * num_out, num_in, dim)``, so
    that the weighted sums and the agreements are batched matrix-vector products that read
    :math:`\hat u` once each, while the logits stay ``(batch, num_in, num_out)`` so that the
    softmax runs over the contiguous last axis. See :func:`route_by_agreement`. On CPU those
    products run as the fused operators of :mod:`gluon_caps.ops` (built and loaded when the
    block first builds a graph, or by :func:`gluon_caps.ops.load_for_block`), elsewhere as
    ``batch_dot``; both give the same values and gradients. ``export`` writes ``batch_dot``
    unless told otherwise (:class:`~gluon_caps.nn.PortableExport`).

    Parameters
    ----------
    num_routing : int, default 3
        Number of routing iterations (the paper's :math:`r`).
    detach_intermediate : bool, default True
        Stop gradients through :math:`\hat u` in all but the last iteration, as the authors'
        official code does; the paper does not say. ``False`` back-propagates through every
        iteration.
    return_coupling : bool, default False
        Also return the coupling coefficients of the last iteration.
    fused : bool or None, default None
        ``True`` requires the fused operators (an :class:`~gluon_caps.ops.OpsBuildError` at the
        first graph built if they cannot be built), ``False`` uses ``batch_dot``, ``None`` leaves
        the choice to ``GLUON_CAPS_FUSED_OPS`` (see :mod:`gluon_caps.ops`). Nothing is built or
        loaded when the block is created.

    Inputs:
        - **u_hat**: predictions :math:`\hat u_{j|i}`, shape ``(batch, num_in, num_out, dim_out)``.

    Outputs:
        - **v**: output capsules, shape ``(batch, num_out, dim_out)``.
        - **coupling** (only with ``return_coupling``): :math:`c_{ij}`, shape
          ``(batch, num_in, num_out)``; sums to 1 over ``num_out``.
    """

    def __init__(self, num_routing=3, detach_intermediate=True, return_coupling=False,
                 fused=None, **kwargs):
        super(DynamicRouting, self).__init__(**kwargs)
        self._num_routing = check_int("num_routing", num_routing, 1)
        self._detach_intermediate = detach_intermediate
        self._return_coupling = return_coupling
        self.fused = fused

    def route(self, F, chunks):
        """Route predictions given as chunks (see :func:`route_by_agreement`) with this block's
        settings; returns what the block returns."""
        v, coupling = route_by_agreement(F, chunks, self._num_routing,
                                         self._detach_intermediate, self.fused)
        return (v, coupling) if self._return_coupling else v

    def hybrid_forward(self, F, u_hat):
        u_hat = F.transpose(u_hat, axes=(0, 2, 1, 3))                          # (B, J, N, D)
        return self.route(F, [fixed_chunk(F, u_hat)])

    def __repr__(self):
        return "{}(num_routing={}, detach_intermediate={})".format(
            self.__class__.__name__, self._num_routing, self._detach_intermediate)
