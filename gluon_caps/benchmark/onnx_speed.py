"""The speed of a network exported to ONNX and run by onnxruntime on the CPU, beside MXNet's
(``gluon-caps bench --mode infer --onnxruntime``)."""
import os
import tempfile

from ..errors import ConfigError
from ..inference.onnx_graph import export_onnx, require
from ..inference.onnx_runtime import onnx_session
from . import stages

__all__ = ["check_onnxruntime", "onnxruntime_speed"]


def check_onnxruntime(mode, hybridize, dtype):
    """Raise :class:`~gluon_caps.errors.ConfigError` unless the benchmark can time the network in
    onnxruntime: a hybridized float32 forward pass, with ``onnx`` and ``onnxruntime``
    installed."""
    if mode != "infer" or not hybridize or dtype != "float32":
        raise ConfigError("--onnxruntime times the float32 inference graph as exported: it needs "
                          "--mode infer, --hybridize and --dtype float32")
    for module in ("onnx", "onnxruntime"):
        require(module, "--onnxruntime")


def onnxruntime_speed(net, x, steps, rounds):
    """Images/s of ``net`` (hybridized, last called on ``x``) exported to ONNX
    (:func:`~gluon_caps.inference.export_onnx`: the ``batch_dot`` graph) and run by onnxruntime
    on the batch ``x``, timed as MXNet is (:func:`~gluon_caps.benchmark.stages.time_call`).

    onnxruntime runs ``OMP_NUM_THREADS`` threads where it is set, as MXNet and its oneDNN
    kernels do; else its own default (one per physical core), while MXNet 1.9 then takes half
    the logical cores of an x86 CPU: set ``OMP_NUM_THREADS`` to compare like with like.

    Returns
    -------
    dict
        ``onnxruntime_images_per_s`` and ``onnxruntime_threads`` (0: onnxruntime's default).
    """
    threads = int(os.environ.get("OMP_NUM_THREADS") or 0)
    with tempfile.TemporaryDirectory() as directory:
        session = onnx_session(export_onnx(net, os.path.join(directory, "net.onnx")), threads)
    data = {"data": x.asnumpy()}
    seconds = stages.time_call(lambda: session.run(None, data), steps, rounds=rounds)
    return {"onnxruntime_images_per_s": x.shape[0] / seconds, "onnxruntime_threads": threads}
