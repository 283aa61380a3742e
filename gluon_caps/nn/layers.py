"""Capsule layers: convolutional primary capsules and fully connected capsules with routing."""
import mxnet as mx
from mxnet import gluon

from ..errors import ConfigError
from .functional import squash
from .routing import DynamicRouting

__all__ = ["Squash", "PrimaryCaps", "DenseCaps"]


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


class DenseCaps(gluon.HybridBlock):
    r"""Fully connected capsule layer: per-pair transforms, then routing.

    Each input capsule :math:`i` predicts each output capsule :math:`j` through its own matrix
    :math:`W_{ij}` of shape ``(dim_out, dim_in)``: :math:`\hat u_{j|i} = W_{ij} u_i`. The
    predictions of all pairs are one batched matrix product per input capsule (a
    ``(batch, dim_in) x (dim_in, num_out * dim_out)`` GEMM for each :math:`i`), not a
    broadcast-multiply-and-sum over a 5-D tensor. The layer has no bias, as in the paper.

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
        Maps predictions ``(batch, num_in, num_out, dim_out)`` to capsules
        ``(batch, num_out, dim_out)``; default :class:`DynamicRouting` with 3 iterations.
    weight_initializer : str or Initializer, default ``Normal(0.01)``
        Initializer of :math:`W`.

    Inputs:
        - **u**: input capsules ``(batch, num_in, dim_in)``.

    Outputs:
        - whatever ``routing`` returns; by default **v** ``(batch, num_out, dim_out)``.
    """

    def __init__(self, num_in, dim_in, num_out, dim_out, routing=None,
                 weight_initializer=None, **kwargs):
        super(DenseCaps, self).__init__(**kwargs)
        for name, value in (("num_in", num_in), ("dim_in", dim_in), ("num_out", num_out),
                            ("dim_out", dim_out)):
            if int(value) != value or value < 1:
                raise ConfigError("DenseCaps %s must be a positive integer, got %r" % (name, value))
        self._num_out = num_out
        self._dim_out = dim_out
        with self.name_scope():
            self.weight = self.params.get(
                "weight", shape=(num_in, num_out, dim_out, dim_in),
                init=weight_initializer or mx.init.Normal(0.01))
            self.routing = routing if routing is not None else DynamicRouting()

    def hybrid_forward(self, F, u, weight):
        u = F.transpose(u, axes=(1, 0, 2))                                   # (N, B, d)
        weight = F.reshape(weight, shape=(0, -3, 0))                         # (N, J*D, d)
        u_hat = F.batch_dot(u, weight, transpose_b=True)                     # (N, B, J*D)
        u_hat = F.reshape(u_hat, shape=(0, 0, -4, self._num_out, self._dim_out))  # (N, B, J, D)
        u_hat = F.transpose(u_hat, axes=(1, 0, 2, 3))                        # (B, N, J, D)
        return self.routing(u_hat)
