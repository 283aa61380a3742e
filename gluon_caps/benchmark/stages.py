"""Per-stage times of a CapsNet, from the times of its growing prefixes.

This MXNet build has no profiler, so each stage up to routing is timed as the difference between
the network cut after it and the network cut before it, each hybridized and run on its own; the
decoder (with the masking) is timed alone on capsules of the right shape. A training stage
includes its share of the backward pass.
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


def time_call(function, steps, warmup=2, rounds=3):
    """Seconds per call of ``function`` (which returns NDArrays): the fastest of ``rounds``
    rounds of ``steps`` calls each, after ``warmup`` calls. The fastest round is the one least
    disturbed by whatever else the machine runs; the model and its ceiling are both timed so.
    """
    for _ in range(warmup):
        function()
    mx.nd.waitall()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(steps):
            function()
        mx.nd.waitall()
        best = min(best, (time.perf_counter() - start) / steps)
    return best


class Prefix(gluon.HybridBlock):
    """A CapsNet cut after ``stage`` (one of :data:`STAGES` up to ``routing``), sharing its
    parameters.

    Outputs a small part of the stage's result, so that returning it costs next to nothing:
    the first feature map, the first primary capsule, the predictions of the first class (laid
    out for routing), or the capsule lengths (routing).
    """

    def __init__(self, net, stage, **kwargs):
        super(Prefix, self).__init__(**kwargs)
        self._depth = STAGES.index(stage)
        self.net = net

    def hybrid_forward(self, F, x):
        net = self.net
        out = net.conv1(x)                                                  # (B, C1, H, W)
        if self._depth >= 1:
            out = net.primary_caps(out)                                     # (B, N, d)
        if self._depth == 2:
            caps = net.digit_caps.predictions
            out = caps.by_output(F, out, 0, caps.num_in)                    # (B, J, N, D)
        if self._depth <= 2:
            return F.slice_axis(out, axis=1, begin=0, end=1)                # (B, 1, ...)
        out = net.digit_caps(out)                                           # (B, J, D)
        out = out[0] if isinstance(out, (list, tuple)) else out
        return capsule_length(F, out)                                       # (B, J)


class DecoderStage(gluon.HybridBlock):
    """The masking and reconstruction decoder of a CapsNet alone, sharing its parameters."""

    def __init__(self, net, **kwargs):
        super(DecoderStage, self).__init__(**kwargs)
        self.net = net

    def hybrid_forward(self, F, v, mask):
        return self.net.decoder(self.net.mask(v, mask))                     # (B, 1, P)


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
    blocks = [(stage, Prefix(net, stage), (x,)) for stage in STAGES[:-1]]
    if net.decoder is not None:
        v = mx.nd.random.uniform(-0.2, 0.2, shape=(x.shape[0], net.num_classes,
                                                   net.digit_caps.predictions.weight.shape[2]),
                                 ctx=x.context)
        v.attach_grad()                              # the decoder's input gradient counts too
        blocks.append(("decoder", DecoderStage(net), (v, mask)))
    times = collections.OrderedDict()
    previous = 0.0
    for stage, block, inputs in blocks:
        if hybridize:
            block.hybridize(static_alloc=True, static_shape=True)
        with warnings.catch_warnings():      # a prefix leaves the later stages' parameters unused
            warnings.filterwarnings("ignore", message=".*is not used by any computation")
            seconds = time_call(_runner(block, inputs, train), steps)
        if stage == "decoder":
            times[stage] = 1e3 * seconds
        else:
            times[stage], previous = 1e3 * (seconds - previous), seconds
    return times


def _runner(block, inputs, train):
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
