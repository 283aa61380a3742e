"""Run an ONNX model with onnxruntime on the CPU, loaded as carefully as an MXNet export."""
from ..checkpoint import check_finite
from ..errors import CheckpointError, first_line
from .onnx_graph import require

__all__ = ["onnx_session"]


def _runtime_errors(onnxruntime):
    """The exception types onnxruntime raises (they derive from ``Exception`` alone)."""
    state = onnxruntime.capi.onnxruntime_pybind11_state
    return tuple(value for value in vars(state).values()
                 if isinstance(value, type) and issubclass(value, Exception))


def onnx_session(path, threads=0):
    """An ``onnxruntime.InferenceSession`` of the ONNX model file ``path`` on the CPU.

    The file is read and checked with the ``onnx`` package first (a valid model, every
    parameter finite), so a damaged file is refused in one sentence.

    Parameters
    ----------
    path : str
    threads : int, default 0
        onnxruntime's ``intra_op_num_threads``; 0 leaves it to onnxruntime (one per core).

    Raises
    ------
    ConfigError
        ``onnx`` or ``onnxruntime`` is not installed; the message says how to install them.
    CheckpointError
        The file is missing, not an ONNX model, holds NaN or infinite parameters, or
        onnxruntime cannot run it; the message names it.
    """
    onnx = require("onnx", "the ONNX model %s" % path)
    onnxruntime = require("onnxruntime", "the ONNX model %s" % path)
    from google.protobuf.message import DecodeError
    try:
        model = onnx.load(path)
        onnx.checker.check_model(model)
    except OSError as error:
        raise CheckpointError("cannot read the ONNX model %s: %s"
                              % (path, error.strerror or error)) from error
    except (DecodeError, onnx.checker.ValidationError) as error:
        raise CheckpointError("%s is not a valid ONNX model (%s)"
                              % (path, first_line(error))) from error
    check_finite({tensor.name: onnx.numpy_helper.to_array(tensor)
                  for tensor in model.graph.initializer}, path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    try:
        return onnxruntime.InferenceSession(model.SerializeToString(), options,
                                            providers=["CPUExecutionProvider"])
    except _runtime_errors(onnxruntime) as error:
        raise CheckpointError("onnxruntime cannot run the ONNX model %s (%s)"
                              % (path, first_line(error))) from error
