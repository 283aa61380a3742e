"""CapsNet of Sabour, Frosst & Hinton, "Dynamic Routing Between Capsules" (NeurIPS 2017).

https://arxiv.org/abs/1710.09829
"""
import mxnet as mx
from mxnet import gluon

from ..errors import ConfigError, check_int
from ..nn import (CapsuleMask, Decoder, DenseCaps, DynamicRouting, OptionalInputBlock,
                  PrimaryCaps, capsule_length)

__all__ = ["CapsNet", "capsnet_mnist", "capsnet_multimnist", "capsnet_smallnorb"]


def _conv_output_size(size, kernel, stride):
    return (size - kernel) // stride + 1


class CapsNet(OptionalInputBlock):
    """The paper's three-layer CapsNet with its reconstruction decoder.

    conv1 (ReLU) -> PrimaryCaps -> DenseCaps with dynamic routing -> capsule lengths; the decoder
    reconstructs the input from the class capsules masked by the label (training) or by the
    longest capsule (inference).

    Parameters
    ----------
    input_shape : tuple of int, default (1, 28, 28)
        ``(channels, height, width)`` of the input images.
    num_classes : int, default 10
        Number of class capsules.
    num_routing : int, default 3
        Routing iterations.
    with_decoder : bool, default True
        Build the reconstruction decoder; without it the network returns only the lengths.
    conv_channels : int, default 256
        Filters of conv1.
    conv_kernel : int, default 9
        Kernel size of conv1 and of the primary capsules.
    primary_channels : int, default 32
        Primary capsule types.
    primary_dim : int, default 8
        Dimension of the primary capsules.
    primary_strides : int, default 2
        Stride of the primary capsule convolution.
    class_dim : int, default 16
        Dimension of the class capsules.
    decoder_units : tuple of int, default (512, 1024)
        Hidden layers of the decoder.
    detach_intermediate : bool, default True
        Gradients through the last routing iteration only (this project's default); ``False``
        back-propagates through every iteration, as the authors' official code does. See
        :class:`~gluon_caps.nn.DynamicRouting`.
    return_coupling : bool, default False
        Also return the coupling coefficients of the last routing iteration.
    routing_bias : bool, default False
        A bias ``(num_classes, class_dim)`` added before the squash in every routing iteration,
        as the authors' official code has (a parameter ``digit_caps.routing.bias``, initialised
        to zero); off, the parameters are the paper's.
    fused : bool or None, default None
        Whether the capsule layers use the fused CPU operators of :mod:`gluon_caps.ops`:
        ``True`` requires them (an :class:`~gluon_caps.ops.OpsBuildError` at the first graph
        built if they cannot be built), ``False`` uses ``batch_dot``, ``None`` leaves the choice
        to ``GLUON_CAPS_FUSED_OPS`` (by default: the fused operators on a CPU where they
        build). Building the network builds and loads nothing; the same parameters either way.

    Inputs:
        - **x**: images ``(batch, channels, height, width)``, values in [0, 1].
        - **mask** (optional): one-hot label ``(batch, num_classes)``, or several per image
          ``(batch, num_masks, num_classes)``; omitted, the longest capsule is reconstructed.

    Outputs:
        Always a sequence (a tuple, or MXNet's list when hybridized), of a form fixed by the
        configuration: ``(lengths, reconstruction)`` with the decoder, ``(lengths,)`` without,
        and the coupling coefficients last with ``return_coupling``:

        - **lengths**: class capsule lengths ``(batch, num_classes)``.
        - **reconstruction** (with the decoder): ``(batch, channels * height * width)``, or
          ``(batch, num_masks, channels * height * width)`` for a 3-D mask.
        - **coupling** (with ``return_coupling``): ``(batch, num_primary_capsules, num_classes)``.

    Hybridized, calls with and without a mask may alternate (see
    :class:`~gluon_caps.nn.OptionalInputBlock`); ``export`` saves the graph of the last call, so
    call ``net(x)`` before exporting an inference model. The graph it writes has standard MXNet
    operators only and loads in any MXNet, unless ``export(path, fused=True)`` asks for the
    graph as built (see :class:`~gluon_caps.nn.PortableExport`).
    """

    def __init__(self, input_shape=(1, 28, 28), num_classes=10, num_routing=3, with_decoder=True,
                 conv_channels=256, conv_kernel=9, primary_channels=32, primary_dim=8,
                 primary_strides=2, class_dim=16, decoder_units=(512, 1024),
                 detach_intermediate=True, return_coupling=False, routing_bias=False,
                 fused=None, **kwargs):
        super(CapsNet, self).__init__(**kwargs)
        input_shape = tuple(int(size) for size in input_shape)
        if len(input_shape) != 3:
            raise ConfigError("input_shape must be (channels, height, width), got %r"
                              % (input_shape,))
        channels, height, width = input_shape
        grid = [_conv_output_size(_conv_output_size(size, conv_kernel, 1), conv_kernel,
                                  primary_strides) for size in (height, width)]
        if min(grid) < 1:
            raise ConfigError("input_shape %r is too small for two %dx%d convolutions"
                              % (input_shape, conv_kernel, conv_kernel))
        check_int("num_classes", num_classes, 2)
        self.input_shape = input_shape
        self.num_classes = num_classes
        self.primary_grid = (primary_channels, grid[0], grid[1])
        self.num_primary_capsules = primary_channels * grid[0] * grid[1]
        self._return_coupling = return_coupling
        conv_init = mx.init.Xavier(rnd_type="uniform", factor_type="avg", magnitude=3)
        with self.name_scope():
            self.conv1 = gluon.nn.Conv2D(conv_channels, conv_kernel, activation="relu",
                                         in_channels=channels, weight_initializer=conv_init)
            self.primary_caps = PrimaryCaps(primary_channels, primary_dim, conv_kernel,
                                            primary_strides, in_channels=conv_channels,
                                            weight_initializer=conv_init)
            routing = DynamicRouting(num_routing, detach_intermediate, return_coupling,
                                     fused=fused, routing_bias=routing_bias,
                                     num_out=num_classes, dim_out=class_dim)
            self.digit_caps = DenseCaps(self.num_primary_capsules, primary_dim, num_classes,
                                        class_dim, routing=routing, fused=fused)
            self.mask = CapsuleMask(num_classes)
            self.decoder = Decoder(num_classes * class_dim, channels * height * width,
                                   decoder_units, weight_initializer=conv_init) \
                if with_decoder else None

    def capsules(self, x):
        """Class capsules ``(batch, num_classes, class_dim)`` of images ``x`` (and the coupling
        coefficients with ``return_coupling``); the encoder without lengths or decoder."""
        return self.digit_caps(self.primary_caps(self.conv1(x)))

    def reconstruct(self, capsules, mask=None):
        """Decode class capsules ``(batch, num_classes, class_dim)`` masked by ``mask`` (as in the
        class inputs) into flat images ``(batch, [num_masks,] pixels)``; imperative use."""
        return self._decode(mx.nd, capsules, mask)

    def _decode(self, F, v, mask):
        reconstruction = self.decoder(self.mask(v, mask))                    # (B, T, P)
        if mask is None:
            return F.reshape(reconstruction, shape=(0, -1))                  # (B, P)
        return F.reshape_like(reconstruction, mask, lhs_begin=0, lhs_end=2,
                              rhs_begin=0, rhs_end=-1)                       # (B, [T,] P)

    def hybrid_forward(self, F, x, mask=None):
        caps = self.capsules(x)
        v, coupling = caps if self._return_coupling else (caps, None)        # (B, K, D)
        outputs = [capsule_length(F, v)]                                     # (B, K)
        if self.decoder is not None:
            outputs.append(self._decode(F, v, mask))                         # (B, [T,] P)
        if coupling is not None:
            outputs.append(coupling)                                         # (B, N, K)
        return tuple(outputs)


def capsnet_mnist(**kwargs):
    """The paper's MNIST CapsNet: 28x28x1 input, 1,152 primary capsules, 10 classes, 8,215,568
    parameters (6,804,224 without the decoder). Keyword arguments go to :class:`CapsNet`."""
    return CapsNet(**dict({"input_shape": (1, 28, 28), "num_classes": 10}, **kwargs))


def capsnet_multimnist(**kwargs):
    """The paper's MultiMNIST CapsNet: 36x36x1 input, 3,200 primary capsules, decoder to 1,296
    pixels, 11,361,808 parameters. Keyword arguments go to :class:`CapsNet`."""
    return CapsNet(**dict({"input_shape": (1, 36, 36), "num_classes": 10}, **kwargs))


def capsnet_smallnorb(**kwargs):
    """The paper's smallNORB CapsNet: both 32x32 stereo images as 2 channels, 5 classes, decoder
    to 32x32x2. Keyword arguments go to :class:`CapsNet`."""
    return CapsNet(**dict({"input_shape": (2, 32, 32), "num_classes": 5}, **kwargs))
