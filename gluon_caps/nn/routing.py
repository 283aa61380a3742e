"""Routing-by-agreement between capsule layers."""
from mxnet import gluon

from ..errors import ConfigError
from .functional import squash

__all__ = ["DynamicRouting"]


class DynamicRouting(gluon.HybridBlock):
    r"""Dynamic routing (Procedure 1 of Sabour et al., 2017, https://arxiv.org/abs/1710.09829).

    Logits :math:`b_{ij}` start at zero; at each iteration

    .. math::
        c_{ij} = \frac{\exp b_{ij}}{\sum_k \exp b_{ik}}, \quad
        s_j = \sum_i c_{ij} \hat u_{j|i}, \quad
        v_j = \mathrm{squash}(s_j), \quad
        b_{ij} \leftarrow b_{ij} + \hat u_{j|i} \cdot v_j

    The softmax runs over the *output* capsules :math:`j`: the coupling coefficients of each input
    capsule sum to 1. Internally the predictions are laid out as ``(batch * num_out, num_in, dim)``
    so that both the weighted sum and the agreement are batched matrix products; no
    ``(batch, num_in, num_out, dim)`` temporary is made per iteration.

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

    Inputs:
        - **u_hat**: predictions :math:`\hat u_{j|i}`, shape ``(batch, num_in, num_out, dim_out)``.

    Outputs:
        - **v**: output capsules, shape ``(batch, num_out, dim_out)``.
        - **coupling** (only with ``return_coupling``): :math:`c_{ij}`, shape
          ``(batch, num_in, num_out)``; sums to 1 over ``num_out``.
    """

    def __init__(self, num_routing=3, detach_intermediate=True, return_coupling=False, **kwargs):
        super(DynamicRouting, self).__init__(**kwargs)
        if int(num_routing) != num_routing or num_routing < 1:
            raise ConfigError("num_routing must be a positive integer, got %r" % (num_routing,))
        self._num_routing = int(num_routing)
        self._detach_intermediate = detach_intermediate
        self._return_coupling = return_coupling

    def hybrid_forward(self, F, u_hat):
        u_hat = F.transpose(u_hat, axes=(0, 2, 1, 3))               # (B, J, N, D)
        u_flat = F.reshape(u_hat, shape=(-3, -2))                   # (B*J, N, D)
        u_fixed = F.stop_gradient(u_flat) if self._detach_intermediate else u_flat  # (B*J, N, D)
        logits = F.zeros_like(F.slice_axis(u_flat, axis=2, begin=0, end=1))         # (B*J, N, 1)
        for iteration in range(self._num_routing):
            last = iteration == self._num_routing - 1
            u_used = u_flat if last else u_fixed                                     # (B*J, N, D)
            logits_4d = F.reshape_like(logits, u_hat, lhs_begin=0, lhs_end=1,
                                       rhs_begin=0, rhs_end=2)                        # (B, J, N, 1)
            coupling = F.softmax(logits_4d, axis=1)                                  # (B, J, N, 1)
            coupling_flat = F.reshape(coupling, shape=(-3, -2))                      # (B*J, N, 1)
            s = F.batch_dot(coupling_flat, u_used, transpose_a=True)                 # (B*J, 1, D)
            v_flat = squash(F, s)                                                    # (B*J, 1, D)
            if not last:
                agreement = F.batch_dot(u_used, v_flat, transpose_b=True)            # (B*J, N, 1)
                logits = logits + agreement                                          # (B*J, N, 1)
        v = F.reshape_like(v_flat, u_hat, lhs_begin=0, lhs_end=1,
                           rhs_begin=0, rhs_end=2)                                    # (B, J, 1, D)
        v = F.reshape(v, shape=(0, 0, -3))                                           # (B, J, D)
        if not self._return_coupling:
            return v
        coupling = F.transpose(F.reshape(coupling, shape=(0, 0, -3)), axes=(0, 2, 1))  # (B, N, J)
        return v, coupling

    def __repr__(self):
        return "{}(num_routing={}, detach_intermediate={})".format(
            self.__class__.__name__, self._num_routing, self._detach_intermediate)
