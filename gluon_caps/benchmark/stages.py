"""Per-stage times of a CapsNet, from the times of its growing prefixes.

This MXNet build has no profiler, so each stage is timed as the difference between the network
cut after it and the network cut before it, each hybridized and run on its own; a training
stage includes its share of the backward pass.
"""
import collections
import time
import warnings

import mxnet as mx
from mxnet import autograd, gluon

from ..nn import capsule_length, fast_forward

__all__ = ["STAGES", "Prefix", "stage_times", "time_call"]

#: Stages in the order data flows through them.
STAGES = ("conv1", "primary", "predictions", "routing", "decoder")


def time_call(function, steps, warmup=2):
    """Seconds per call of ``function`` (which returns NDArrays), after ``warmup`` calls."""
    for _ in range(warmup):
        function()
    mx.nd.waitall()
    start = time.perf_counter()
    for _ in range(steps):
        function()
    mx.nd.waitall()
    return (time.perf_counter() - start) / steps


class Prefix(gluon.HybridBlock):
    """A CapsNet cut after ``stage`` (one of :data:`STAGES`), sharing its parameters.

    Outputs the stage's result: feature maps, primary capsules, predictions laid out for
    routing, capsule lengths (routing), or reconstructions (decoder, masked by the label).
    """

    def __init__(self, net, stage, **kwargs):
        super(Prefix, self).__init__(**kwargs)
        self._depth = STAGES.index(stage)
        self.takes_mask = stage == "decoder"
        self.net = net

    def hybrid_forward(self, F, x, mask=None):
        net = self.net
        out = net.conv1(x)                                                  # (B, C1, H, W)
        if self._depth >= 1:
            out = net.primary_caps(out)                                     # (B, N, d)
        if self._depth == 2:
            caps = net.digit_caps.predictions
            weight = caps.weight.var() if isinstance(x, mx.sym.Symbol) else caps.weight.data()
            return caps.by_output(F, out, weight, 0, caps.num_in)           # (B, J, N, D)
        if self._depth >= 3:
            out = net.digit_caps(out)                                       # (B, J, D)
            out = out[0] if isinstance(out, (list, tuple)) else out
        if self._depth == 3:
            return capsule_length(F, out)                                   # (B, J)
        if self._depth == 4:
            return net.decoder(net.mask(out, mask))                         # (B, 1, P)
        return out


def stage_times(net, x, mask, train, steps, hybridize=True):
    """Milliseconds per batch of each stage of ``net``.

    Parameters
    ----------
    net : CapsNet
        Initialized.
    x, mask : NDArray
        A batch of images and one-hot labels.
    train : bool
        Time forward and backward (gradient of the sum of the stage's output) instead of the
        forward pass alone (run under :func:`~gluon_caps.nn.fast_forward`).
    steps : int
        Timed calls per prefix.
    hybridize : bool
        Hybridize the prefixes with static memory, as the model is.

    Returns
    -------
    collections.OrderedDict
        Stage name -> milliseconds (a stage the network lacks, e.g. no decoder, is absent).
    """
    stages = STAGES if net.decoder is not None else STAGES[:-1]
    cumulative = []
    for stage in stages:
        prefix = Prefix(net, stage)
        if hybridize:
            prefix.hybridize(static_alloc=True, static_shape=True)
        with warnings.catch_warnings():      # a prefix leaves the later stages' parameters unused
            warnings.filterwarnings("ignore", message=".*is not used by any computation")
            cumulative.append(time_call(_runner(prefix, x, mask, train), steps))
    times = collections.OrderedDict()
    previous = 0.0
    for stage, seconds in zip(stages, cumulative):
        times[stage] = 1e3 * (seconds - previous)
        previous = seconds
    return times


def _runner(block, x, mask, train):
    inputs = (x, mask) if block.takes_mask else (x,)
    if train:
        def run():
            with autograd.record():
                out = block(*inputs)
            out.backward()
            return out
    else:
        def run():
            with fast_forward():
                return block(*inputs)
    return run
