"""``gluon-caps bench``: images/s, peak memory and per-stage times against the machine's ceiling."""
import collections
import json
import os
import re
import resource
import shutil
import subprocess
import sys

import mxnet as mx
from mxnet import autograd, gluon

from ..errors import ConfigError
from ..loss import CapsuleLoss
from ..model_zoo import get_model
from ..nn import fast_forward
from ..ops import fused_routing
from ..precision import TrainingPrecision, compute_dtype, set_compute_dtype
from .flops import conv1_output_size, conv_gflops, model_gflops
from .onnx_speed import check_onnxruntime, onnxruntime_speed
from .stages import OPTIMIZER, stage_times, time_call

__all__ = ["benchmark_network", "run_benchmark", "ceiling_gflops", "format_benchmark",
           "peak_memory_sweep", "check_torch_reference", "torch_reference"]

_TORCH_LINE = re.compile(r"torch_\w+_img_per_s=([0-9.]+)")
_TORCH_WHAT = "--torch-reference %s with %s"


def ceiling_gflops(net, batch_size, steps, ctx, rounds=3, dtype="float32"):
    """GFLOP/s of the network's PrimaryCaps convolution alone, hybridized, forward (with the
    faster kernels of :func:`~gluon_caps.nn.fast_forward`) and forward+backward (input and
    weight gradients): the best this machine does on the model's dominant arithmetic. Timed
    as :func:`run_benchmark` times the model (``steps`` calls per round, ``rounds`` rounds).

    With ``dtype`` ``bfloat16`` the convolution computes as in the bfloat16 network
    (:func:`~gluon_caps.precision.set_compute_dtype`): float32 weights cast to bfloat16, its
    float32 input cast to bfloat16 and its output back to float32. The network casts only the
    output (its input is conv1's bfloat16 output), so the input's cast makes this ceiling a
    little low."""
    weight = net.primary_caps.conv.weight.shape                    # (T*d, C1, k, k)
    _, grid_h, grid_w = net.primary_grid
    conv = gluon.nn.Conv2D(weight[0], weight[-1], net.primary_caps.conv._kwargs["stride"],
                           in_channels=weight[1])
    conv.initialize(ctx=ctx)
    conv.hybridize(static_alloc=True, static_shape=True)
    set_compute_dtype(conv, dtype, ctx)
    x = mx.nd.random.uniform(shape=(batch_size, weight[1]) + conv1_output_size(net), ctx=ctx)
    x.attach_grad()
    flops = batch_size * conv_gflops(weight[1], weight[0], weight[-1], grid_h, grid_w)

    def forward():
        with fast_forward():
            return conv(x)

    def forward_backward():
        with autograd.record():
            out = conv(x)
        out.backward()
        return out
    return (flops / time_call(forward, steps, rounds=rounds),
            3 * flops / time_call(forward_backward, steps, rounds=rounds))


def _peak_rss_gib():
    """Peak resident memory of this process: ``VmHWM`` on Linux (which, unlike ``ru_maxrss``,
    does not carry over the parent's peak into a process it forks and execs)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2.0 ** 20                    # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2.0 ** 20     # KiB on Linux


def benchmark_network(model, input_size=None):
    """The network a benchmark of ``model`` measures: the zoo model, or with ``input_size`` its
    architecture at ``input_size`` x ``input_size`` pixels (as many channels and classes, and as
    many primary capsules as that size gives).

    Raises
    ------
    ConfigError
        An unknown model, or an input too small for its convolutions.
    """
    kwargs = {}
    if input_size is not None:
        channels = get_model(model).input_shape[0]
        kwargs["input_shape"] = (channels, input_size, input_size)
    return get_model(model, **kwargs)


def run_benchmark(model="capsnet_mnist", batch_size=128, mode="train", hybridize=True,
                  steps=10, stages=True, ceiling=True, ctx=None, rounds=3,
                  dtype="float32", dense=False, input_size=None, onnxruntime=False):
    """Measure a model's speed on this machine.

    Parameters
    ----------
    model : str
        A name of :func:`~gluon_caps.model_zoo.get_model`.
    batch_size : int
        Images per step.
    mode : {'train', 'infer'}
        ``train``: forward, margin + reconstruction loss, backward and an Adam update per step.
        ``infer``: the forward pass without a label (decoder masked by the longest capsule),
        under :func:`~gluon_caps.nn.fast_forward`; the plain inference-mode forward is
        measured too.
    hybridize : bool
        ``hybridize(static_alloc=True, static_shape=True)``, or imperative.
    steps : int
        Timed steps per round; the fastest round counts (after 2 warm-up steps).
    stages : bool
        Also time each stage alone (see :func:`~gluon_caps.benchmark.stage_times`).
    ceiling : bool
        Also measure the convolution ceiling (see :func:`ceiling_gflops`).
    ctx : mxnet.Context, optional
        Default the CPU.
    rounds : int
        Rounds of ``steps`` timed steps; the fastest counts, for the model, its ceiling and
        its stages alike.
    dtype : {'float32', 'bfloat16'}
        What the network computes in (:mod:`gluon_caps.precision`); bfloat16 needs
        ``hybridize``. Its ceiling is measured in float32 and in bfloat16.
    dense : bool
        With bfloat16: the decoder's dense layers in bfloat16 too, not only the convolutions.
    input_size : int, optional
        Measure the model's architecture at this many pixels square (see
        :func:`benchmark_network`) instead of its own input size.
    onnxruntime : bool
        Also time the network exported to ONNX in onnxruntime on the same batch (``infer``,
        hybridized, float32; see :func:`~gluon_caps.benchmark.onnx_speed.onnxruntime_speed`).

    Returns
    -------
    dict
        ``input_shape`` and ``primary_capsules`` of the network measured, ``images_per_s``,
        ``capsule_ops`` (``"fused"`` or ``"batch_dot"``, see :mod:`gluon_caps.ops`),
        ``stores_predictions`` (whether its capsule layer computes the predictions
        :math:`\\hat u` or routes without them, see :class:`~gluon_caps.nn.DenseCaps`),
        ``dtype`` (what it computed in: ``float32``, ``bfloat16``, or
        ``float16`` on a GPU), ``dense_dtype`` (that of the decoder's layers),
        ``peak_memory_gib`` (peak resident memory of this process, so run
        one configuration per process to compare them), ``gflops`` (per image), and with
        ``ceiling``: ``conv_gflops_per_s`` (forward, forward+backward), ``ceiling_images_per_s``
        and ``fraction_of_ceiling``, all in float32 (so a bfloat16 run's fraction is its
        speed-up over the float32 ceiling), and for a bfloat16 network ``low_precision_ceiling``
        (``dtype``, ``conv_gflops_per_s``, ``ceiling_images_per_s``, ``fraction_of_ceiling``)
        of the same convolution in bfloat16, and ``float32_images_per_s`` (the same network in
        float32, timed in the same run after the peak memory was read) and
        ``speedup_over_float32``; with ``stages``: ``stages_ms``, the milliseconds per
        batch of each stage timed alone, never negative; with ``onnxruntime``:
        ``onnxruntime_images_per_s`` and ``onnxruntime_threads``.

    Raises
    ------
    ConfigError
        For a bad mode, size, model name, input size or dtype
        (bfloat16 on a CPU without bfloat16 instructions, or imperative), or ``onnxruntime``
        where it cannot run, before anything is timed.
    """
    if mode not in ("train", "infer"):
        raise ConfigError("--mode must be train or infer, got %r" % (mode,))
    if batch_size < 1 or steps < 1 or rounds < 1:
        raise ConfigError("--batch-size, --steps and --rounds must be positive")
    ctx = ctx or mx.cpu()
    compute = compute_dtype(dtype, ctx)
    if compute != "float32" and not hybridize:
        raise ConfigError("--dtype %s needs a hybridized network, not --no-hybridize" % dtype)
    if onnxruntime:
        check_onnxruntime(mode, hybridize, dtype)

    def network(in_dtype):
        mx.random.seed(0)
        built = benchmark_network(model, input_size)
        if mode == "infer":                 # as gluon-caps evaluate runs it: no gradient arrays
            built.collect_params().setattr("grad_req", "null")
        built.initialize(ctx=ctx)
        if hybridize:
            built.hybridize(static_alloc=True, static_shape=True)
            set_compute_dtype(built, in_dtype, ctx, dense)
        return built
    net = network(dtype)
    x = mx.nd.random.uniform(shape=(batch_size,) + tuple(net.input_shape), ctx=ctx)
    labels = mx.nd.one_hot(mx.nd.arange(batch_size, ctx=ctx) % net.num_classes, net.num_classes)
    result = collections.OrderedDict(
        model=model, input_shape=list(net.input_shape),
        primary_capsules=net.num_primary_capsules, mode=mode, batch_size=batch_size,
        hybridize=hybridize, steps=steps, rounds=rounds,
        context=str(ctx), capsule_ops="fused" if fused_routing() else "batch_dot",
        stores_predictions=net.digit_caps.stores_predictions(), dtype=compute,
        dense_dtype=compute if dense else "float32")
    result["images_per_s"] = batch_size / _step_seconds(net, x, labels, mode == "train",
                                                        compute, steps, rounds)
    if mode == "infer":
        result["images_per_s_inference_kernels"] = batch_size / time_call(
            lambda: net(x), steps, rounds=rounds)
    result["peak_memory_gib"] = _peak_rss_gib()
    if onnxruntime:                 # after the peak memory, which stays MXNet's
        result.update(onnxruntime_speed(net, x, steps, rounds))
    if compute != "float32":        # the same network in float32, in this run, after the peak
        result["float32_images_per_s"] = batch_size / _step_seconds(
            network("float32"), x, labels, mode == "train", "float32", steps, rounds)
        result["speedup_over_float32"] = result["images_per_s"] / result["float32_images_per_s"]
    result["gflops"] = model_gflops(net)
    if ceiling:
        forward, forward_backward = ceiling_gflops(net, batch_size, steps, ctx, rounds)
        per_image = result["gflops"]["train" if mode == "train" else "forward"]
        result["conv_gflops_per_s"] = {"forward": forward, "forward_backward": forward_backward}
        result["ceiling_images_per_s"] = (forward_backward if mode == "train"
                                          else forward) / per_image
        result["fraction_of_ceiling"] = result["images_per_s"] / result["ceiling_images_per_s"]
        if compute != "float32":
            low = ceiling_gflops(net, batch_size, steps, ctx, rounds, dtype)
            low_images_per_s = (low[1] if mode == "train" else low[0]) / per_image
            result["low_precision_ceiling"] = collections.OrderedDict(
                dtype=compute, conv_gflops_per_s={"forward": low[0], "forward_backward": low[1]},
                ceiling_images_per_s=low_images_per_s,
                fraction_of_ceiling=result["images_per_s"] / low_images_per_s)
    if stages:
        result["stages_ms"] = stage_times(net, x, labels, mode == "train", steps, hybridize,
                                          rounds, dtype, dense)
    return result


def _step_seconds(net, x, labels, train, compute, steps, rounds):
    """Seconds of the fastest training step (``train``) or forward pass under
    :func:`~gluon_caps.nn.fast_forward`, as :func:`run_benchmark` times them."""
    if train:
        return time_call(_train_step(net, x, labels, compute), steps, rounds=rounds)

    def infer():
        with fast_forward():
            return net(x)
    return time_call(infer, steps, rounds=rounds)


def _train_step(net, x, labels, compute="float32"):
    loss = CapsuleLoss()
    trainer = gluon.Trainer(net.collect_params(), *OPTIMIZER)
    precision = TrainingPrecision(trainer, compute)

    def step():
        with autograd.record():
            lengths, reconstruction = net(x, labels)
            value = loss(lengths, labels, reconstruction, x)
        precision.backward(value)
        trainer.step(x.shape[0])
        return value
    return step


def peak_memory_sweep(batch_sizes, model="capsnet_mnist", mode="train", steps=2,
                      dtype="float32", dense=False, input_size=None):
    """Peak resident memory (GiB) of one benchmark process per batch size (no ceiling, no
    stages, one round of ``steps`` steps), each in a fresh process so the peaks do not mix."""
    peaks = collections.OrderedDict()
    for batch_size in batch_sizes:
        command = [sys.executable, "-m", "gluon_caps", "bench", "--json", "--no-stages",
                   "--no-ceiling", "--model", model, "--mode", mode, "--batch-size",
                   str(batch_size), "--steps", str(steps), "--rounds", "1", "--dtype", dtype,
                   "--bf16-dense" if dense else "--no-bf16-dense"]
        if input_size is not None:
            command += ["--input-size", str(input_size)]
        output = _run_command(command, "--memory-sweep at batch size %d" % batch_size,
                              env=_environment())
        peaks[batch_size] = json.loads(output)["peak_memory_gib"]
    return peaks


def check_torch_reference(script, python):
    """Raise :class:`ConfigError` unless ``script`` is a file and ``python`` an executable
    (a path or a name on ``PATH``): the checks of :func:`torch_reference` that need not wait
    for the benchmark, so a command can make them before it."""
    if not os.path.isfile(script):
        raise ConfigError("--torch-reference: no file %s" % script)
    if shutil.which(python) is None:
        raise ConfigError("%s: cannot run %s (no such executable)"
                          % (_TORCH_WHAT % (script, python), python))


def torch_reference(script, python, mode, batch_size, steps):
    """Images/s of the PyTorch reference script (its ``--mode``, ``--batch``, ``--steps``),
    run with the interpreter ``python`` right now on this machine."""
    check_torch_reference(script, python)
    what = _TORCH_WHAT % (script, python)
    output = _run_command([python, script, "--mode", mode, "--batch", str(batch_size),
                           "--steps", str(steps)], what)
    match = _TORCH_LINE.search(output)
    if not match:
        raise ConfigError("%s printed no torch_<mode>_img_per_s= line" % what)
    return float(match.group(1))


def _run_command(command, what, env=None):
    """The standard output of ``command``; a failure is one :class:`ConfigError` naming
    ``what`` with the command's last line of standard error (or its exit code)."""
    try:
        completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   universal_newlines=True, env=env)
    except OSError as error:
        raise ConfigError("%s: cannot run %s (%s)" % (what, command[0], error.strerror))
    if completed.returncode != 0:
        lines = completed.stderr.strip().splitlines() or ["exit code %d" % completed.returncode]
        raise ConfigError("%s failed: %s" % (what, lines[-1]))
    return completed.stdout


def _environment():
    """This environment, with this copy of gluon_caps first on the path."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=root + os.pathsep + path if path else root)


def format_benchmark(result):
    """The result of :func:`run_benchmark` as lines for people."""
    lines = ["%s  %s  %s  batch %d  %s  %s  capsule ops: %s%s" % (
        result["model"], "x".join(str(size) for size in result["input_shape"]), result["mode"],
        result["batch_size"], "hybridized" if result["hybridize"] else "imperative",
        result["context"], result["capsule_ops"],
        "" if result["stores_predictions"] else " (no predictions stored)")]
    lines.append("capsules:   %d primary capsules" % result["primary_capsules"])
    if result.get("dtype", "float32") != "float32":
        lines[0] += "  %s %s" % (result["dtype"], "convolutions and dense layers"
                                 if result["dense_dtype"] != "float32" else "convolutions")
    gflops = result["gflops"]
    lines.append("arithmetic: %.3f GFLOP/image forward, %.3f per training step"
                 % (gflops["forward"], gflops["train"]))
    if "conv_gflops_per_s" in result:
        conv = result["conv_gflops_per_s"]
        lines.append("ceiling:    PrimaryCaps convolution alone %.1f GFLOP/s forward, %.1f "
                     "forward+backward -> %.1f images/s%s"
                     % (conv["forward"], conv["forward_backward"],
                        result["ceiling_images_per_s"],
                        " (float32)" if "low_precision_ceiling" in result else ""))
    low = result.get("low_precision_ceiling")
    if low:
        lines.append("            the same in %s %.1f GFLOP/s forward, %.1f forward+backward "
                     "-> %.1f images/s" % (low["dtype"], low["conv_gflops_per_s"]["forward"],
                                           low["conv_gflops_per_s"]["forward_backward"],
                                           low["ceiling_images_per_s"]))
    speed = "model:      %.1f images/s" % result["images_per_s"]
    if "fraction_of_ceiling" in result:
        speed += " = %.2f of the ceiling" % result["fraction_of_ceiling"]
    if low:
        speed += " (float32), %.2f of the %s ceiling" % (low["fraction_of_ceiling"], low["dtype"])
    if "images_per_s_inference_kernels" in result:
        speed += " (%.1f images/s with MXNet's inference-mode kernels)" \
            % result["images_per_s_inference_kernels"]
    lines.append(speed)
    if "speedup_over_float32" in result:
        lines.append("            = %.2fx the same network in float32 (%.1f images/s, this run)"
                     % (result["speedup_over_float32"], result["float32_images_per_s"]))
    if "onnxruntime_images_per_s" in result:
        lines.append("onnxruntime: %.1f images/s with %s threads = %.2fx MXNet (the exported "
                     "float32 graph, same batch)" % (
                         result["onnxruntime_images_per_s"],
                         result["onnxruntime_threads"] or "its default number of",
                         result["onnxruntime_images_per_s"] / result["images_per_s"]))
    lines.append("memory:     peak resident %.2f GiB" % result["peak_memory_gib"])
    if "stages_ms" in result:
        train = result["mode"] == "train"
        lines.append("stages (ms per batch%s, each timed alone):"
                     % (", forward+backward" if train else ""))
        stages = result["stages_ms"]
        lines.extend("  %-14s %8.1f" % (name, ms) for name, ms in stages.items())
        lines.append("  %-14s %8.1f against %.1f for the whole %s"
                     % ("sum", sum(stages.values()), 1e3 * result["batch_size"]
                        / result["images_per_s"], "step" if train else "forward pass"))
    if "memory_sweep_gib" in result:
        lines.append("peak memory by batch size: " + ", ".join(
            "%s: %.2f GiB" % item for item in result["memory_sweep_gib"].items()))
    if "torch_images_per_s" in result:
        lines.append("PyTorch reference: %.1f images/s -> gluon-caps is %.2fx"
                     % (result["torch_images_per_s"], result["speedup_over_torch"]))
    return lines
