"""Per-stage times of a CapsNet, each stage timed alone on inputs computed beforehand
(:func:`stage_times`).

This MXNet build has no profiler, so each stage is a block of its own (:class:`Stage`) that
shares the network's parameters: the stages before it run once and their outputs are kept, and
only the stage itself is timed on them. Every time is a measurement of its own, never the
difference of two (which noise can make negative). Timed apart, the stages share no graph,
memory plan or wait, so their sum need not equal the time of the whole step.
"""
import collections
import time
import warnings

import mxnet as mx
from mxnet import autograd, gluon

from ..loss import CapsuleLoss
from ..nn import capsule_length, fast_forward
from ..precision import set_compute_dtype

__all__ = ["STAGES", "OPTIMIZER", "Stage", "network_stages", "stage_times", "time_call"]

#: Stages in the order data flows through them.
STAGES = ("conv1", "primary", "predictions", "routing", "decoder")

#: Optimizer and settings of a timed training step: ``(name, keyword arguments)``.
OPTIMIZER = ("adam", {"learning_rate": 1e-3})


def time_call(function, steps, warmup=2, rounds=3):
    """Seconds per call of ``function`` (which returns NDArrays): the fastest of ``rounds``
    rounds of ``steps`` calls each, after ``warmup`` calls. The fastest round is the one least
    disturbed by whatever else the machine runs; the model, its ceiling and its stages are all
    timed so.
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


def _conv1(F, net, x):
    return net.conv1(x)                                                       # (B, C1, H, W)


def _primary(F, net, features):
    return net.primary_caps(features)                                         # (B, N, d)


def _predictions(F, net, u):
    caps = net.digit_caps.predictions
    return caps.by_output(F, u)                                              # (B, J, N, D)


def _routing(F, net, x):
    caps = net.digit_caps
    if not caps.stores_predictions():
        return caps(x)                                          # (B, N, d) -> (B, J, D)
    bias = caps.routing.bias_in_graph(x)
    return caps.routing.route(F, x, bias)                      # (B, J, N, D) -> (B, J, D)


def _decoder(F, net, v, *mask):
    return F.reshape(net.decoder(net.mask(v, *mask)), shape=(0, -1))          # (B, P)


_FORWARD = dict(zip(STAGES, (_conv1, _primary, _predictions, _routing, _decoder)))


class Stage(gluon.HybridBlock):
    """One stage of a CapsNet as a block of its own, sharing the network's parameters.

    Parameters
    ----------
    net : CapsNet
        The network, e.g. from :func:`~gluon_caps.model_zoo.get_model`.
    stage : str
        One of :data:`STAGES`.

    Inputs:
        - ``conv1``: images ``(batch, channels, height, width)``.
        - ``primary``: conv1's feature maps ``(batch, C1, H1, W1)``.
        - ``predictions``: primary capsules ``(batch, N, d)``.
        - ``routing``: the predictions in routing's layout ``(batch, J, N, D)``, or where the
          capsule layer routes without them (:func:`network_stages`), the primary capsules.
        - ``decoder``: class capsules ``(batch, J, D)`` and, optionally, one-hot labels
          ``(batch, J)`` to mask them by (omitted: the longest capsule, as in inference).

    Outputs:
        - the stage's output in the same layout: the input of the next stage; the decoder's is
          the flat reconstruction ``(batch, pixels)``.
    """

    def __init__(self, net, stage, **kwargs):
        super(Stage, self).__init__(**kwargs)
        self._forward = _FORWARD[stage]
        self.net = net

    def hybrid_forward(self, F, *inputs):
        return self._forward(F, self.net, *inputs)


def network_stages(net):
    """The stages of ``net`` (:data:`STAGES`), in the order data flows through them: without
    ``predictions`` where its capsule layer routes without storing them
    (:meth:`~gluon_caps.nn.DenseCaps.stores_predictions`, loading the fused operators if so),
    without ``decoder`` where it has none."""
    absent = set() if net.digit_caps.stores_predictions() else {"predictions"}
    if net.decoder is None:
        absent.add("decoder")
    return tuple(stage for stage in STAGES if stage not in absent)


def stage_times(net, x, mask, train, steps, hybridize=True, rounds=3, dtype="float32",
                dense=False):
    r"""Milliseconds per batch of each stage of ``net``, each timed alone on its own inputs.

    - ``conv1``: the first convolution and its ReLU, on the images.
    - ``primary``: the PrimaryCaps convolution, reshape and squash, on conv1's output.
    - ``predictions``: :math:`\hat u_{j|i} = W_{ij} u_i` for every pair of primary and class
      capsules, computed once in routing's layout; absent where the capsule layer routes
      without storing them (:func:`network_stages`).
    - ``routing``: the routing iterations on those predictions, or without them, from the
      primary capsules (recomputing the predictions where routing needs them).
    - ``decoder``: the masking (by the labels in training, by the longest capsule in
      inference) and the reconstruction decoder, on the class capsules.
    - ``loss + update`` (training): the capsule lengths, the margin and reconstruction loss
      forward and backward, and the Adam update of every parameter (:data:`OPTIMIZER`).
    - ``rest`` (inference): the capsule lengths, the network's output.

    Parameters
    ----------
    net : CapsNet
        Initialized.
    x, mask : NDArray
        A batch of images ``(batch, channels, height, width)`` and one-hot labels
        ``(batch, num_classes)``.
    train : bool
        Time each stage forward and backward, from the gradient of the sum of its output to
        those of its parameters and, after conv1, of its input (as in the network's backward
        pass), instead of the forward pass alone (under :func:`~gluon_caps.nn.fast_forward`).
    steps : int
        Timed calls per round.
    hybridize : bool
        Hybridize each stage with static memory, as the model is.
    rounds : int
        The fastest of this many rounds counts (see :func:`time_call`).
    dtype : {'float32', 'bfloat16'}
        Each hybridized stage computes in this (see
        :func:`~gluon_caps.precision.set_compute_dtype`), converted alone: a bfloat16 stage
        casts its float32 input and output, which the whole network does not between conv1
        and primary.
    dense : bool
        With bfloat16: the decoder's dense layers too.

    Returns
    -------
    collections.OrderedDict
        Stage name -> milliseconds, in the order above (the stages of
        :func:`network_stages`, then the tail). Every value is a time measured on its own,
        never negative.
    """
    times = collections.OrderedDict()

    def timed(stage, *inputs):
        block = Stage(net, stage)
        if hybridize:
            block.hybridize(static_alloc=True, static_shape=True)
            set_compute_dtype(block, dtype, x.context, dense)
        run = _runner(block, inputs, train)
        times[stage] = 1e3 * time_call(run, steps, rounds=rounds)
        out = run().copy()                    # the next stage's input, a gradient leaf if needed
        if train:
            out.attach_grad()
        return out

    stages = network_stages(net)
    with warnings.catch_warnings():          # a stage leaves the others' parameters unused
        warnings.filterwarnings("ignore", message=".*is not used by any computation")
        u = timed("primary", timed("conv1", x))
        v = timed("routing", timed("predictions", u) if "predictions" in stages else u)
        reconstruction = None
        if "decoder" in stages:
            reconstruction = timed("decoder", v, *([mask] if train else []))
    tail = _loss_and_update(net, x, mask, v, reconstruction) if train \
        else (lambda: capsule_length(mx.nd, v))
    times["loss + update" if train else "rest"] = 1e3 * time_call(tail, steps, rounds=rounds)
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


def _loss_and_update(net, x, mask, v, reconstruction):
    """A call that computes the capsule lengths of ``v`` and the loss, back-propagates them to
    ``v`` and ``reconstruction`` and updates every parameter with its gradient, as a training
    step does after the network's backward pass."""
    loss = CapsuleLoss()
    update = mx.optimizer.get_updater(mx.optimizer.create(OPTIMIZER[0], **OPTIMIZER[1]))
    params = [param for param in net.collect_params().values() if param.grad_req != "null"]
    indices = list(range(len(params)))
    grads = [param.grad(x.context) for param in params]
    weights = [param.data(x.context) for param in params]

    def step():
        with autograd.record():
            value = loss(capsule_length(mx.nd, v), mask, reconstruction, x)
        value.backward()
        update(indices, grads, weights)
        return value
    return step
