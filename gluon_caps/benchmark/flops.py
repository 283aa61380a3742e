"""Arithmetic of a CapsNet: the multiply-adds of its convolutions and matrix products."""
import collections

__all__ = ["conv_gflops", "conv1_output_size", "model_gflops"]


def conv_gflops(in_channels, out_channels, kernel, out_height, out_width):
    """GFLOP (2 per multiply-add) of one image through a convolution, forward."""
    return 2.0 * in_channels * kernel * kernel * out_channels * out_height * out_width / 1e9


def conv1_output_size(net):
    """``(height, width)`` of a CapsNet's conv1 output (its 'valid' convolution, stride 1)."""
    kernel = net.conv1.weight.shape[-1]
    return tuple(size - kernel + 1 for size in net.input_shape[1:])


def model_gflops(net):
    """GFLOP per image of a :class:`~gluon_caps.model_zoo.CapsNet` forward pass, by layer.

    Counts convolutions and matrix products (2 FLOP per multiply-add); routing's memory-bound
    sums and softmaxes are left out, as are biases and activations. A training step costs
    three forward passes (forward, input gradient, weight gradient) less conv1's input
    gradient, which nobody needs.

    Returns
    -------
    collections.OrderedDict
        ``conv1``, ``primary``, ``predictions``, ``decoder`` (GFLOP per image, forward),
        ``forward`` (their sum) and ``train`` (per image and training step).
    """
    _, grid_h, grid_w = net.primary_grid
    conv1 = net.conv1.weight.shape                                 # (C1, C, k, k)
    primary = net.primary_caps.conv.weight.shape                   # (T*d, C1, k, k)
    predictions = net.digit_caps.predictions.weight.shape          # (N, J, D, d)
    counts = collections.OrderedDict()
    counts["conv1"] = conv_gflops(conv1[1], conv1[0], conv1[-1], *conv1_output_size(net))
    counts["primary"] = conv_gflops(primary[1], primary[0], primary[-1], grid_h, grid_w)
    counts["predictions"] = 2.0 * _product(predictions) / 1e9
    counts["decoder"] = 0.0
    if net.decoder is not None:
        counts["decoder"] = sum(2.0 * _product(layer.weight.shape)
                                for layer in net.decoder.layers) / 1e9
    counts["forward"] = sum(counts.values())
    counts["train"] = 3 * counts["forward"] - counts["conv1"]
    return counts


def _product(shape):
    result = 1
    for size in shape:
        result *= size
    return result
