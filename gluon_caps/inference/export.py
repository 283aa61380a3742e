"""Export a checkpoint's network as a hybridized inference graph with a description of its input.

``PREFIX-symbol.json`` and ``PREFIX-0000.params`` load with
``gluon.SymbolBlock.imports(PREFIX + "-symbol.json", ["data"], PREFIX + "-0000.params")`` for any
batch size; the outputs are the capsule lengths ``(B, K)`` and, with a decoder, the reconstruction
of the longest capsule ``(B, C*H*W)``. ``PREFIX-meta.json`` says what the input must be, and the
``dtype`` the graph computes in. In the ``onnx`` format the same graph is ``PREFIX.onnx``
(standard ONNX operators of opset 13, a free batch axis, outputs named ``lengths`` and
``reconstruction``; see :mod:`~gluon_caps.inference.onnx_graph`), float32 only, beside the same
``PREFIX-meta.json``.

A bfloat16 export (``dtype="bfloat16"``) is the bfloat16 graph the network runs: standard MXNet
operators only, its convolutions fed by ``amp_cast`` operators (MXNet 1.6 and later), float32
parameters, inputs and outputs. It runs in any CPU build of MXNet with oneDNN on a CPU with
bfloat16 instructions (AVX-512 BF16 or AMX; elsewhere oneDNN emulates them slowly, or refuses),
not on a GPU: export float32 for those.
"""
import json

from ..errors import CheckpointError, ConfigError, GluonCapsError, first_line
from ..ops import portable
from ..precision import inference_network
from ..data import class_names, get_dataset_spec
from .files import prepare_output
from .onnx_graph import export_onnx, require

__all__ = ["EXPORT_FORMATS", "export_files", "export_checkpoint", "read_meta"]

META_FORMAT = "gluon-caps-export/1"
#: The formats of :func:`export_checkpoint`: MXNet's symbol and parameters, or ONNX.
EXPORT_FORMATS = ("mxnet", "onnx")


def export_files(prefix, fmt="mxnet"):
    """The files of an export, its description last: ``(symbol, params, meta)``, or
    ``(onnx, meta)`` for ``fmt="onnx"``."""
    if fmt == "onnx":
        return prefix + ".onnx", prefix + "-meta.json"
    return prefix + "-symbol.json", prefix + "-0000.params", prefix + "-meta.json"


def export_checkpoint(checkpoint, prefix, dtype="float32", fmt="mxnet"):
    """Write a checkpoint's network as ``PREFIX-symbol.json``, ``PREFIX-0000.params`` and
    ``PREFIX-meta.json``, or as ``PREFIX.onnx`` and ``PREFIX-meta.json`` (missing directories
    are created).

    Parameters
    ----------
    checkpoint : Checkpoint
        From :func:`~gluon_caps.inference.load_checkpoint` (on the CPU for bfloat16).
    prefix : str
        Path prefix of the files.
    dtype : {'float32', 'bfloat16'}
        What the graph computes in (see :mod:`gluon_caps.precision`); bfloat16 is refused on a
        CPU without bfloat16 instructions, where the graph could not be checked by running it.
        ONNX exports are float32.
    fmt : {'mxnet', 'onnx'}
        MXNet's symbol and parameters, or an ONNX model (needs the ``onnx`` package).

    Returns
    -------
    list of str
        The files written.
    """
    import mxnet as mx
    net, config = checkpoint.net, checkpoint.config
    spec = get_dataset_spec(config["dataset"])
    if fmt not in EXPORT_FORMATS:
        raise ConfigError("--format must be one of %s, got %r" % (", ".join(EXPORT_FORMATS), fmt))
    if fmt == "onnx":
        if dtype != "float32":
            raise ConfigError("--dtype %s: ONNX exports compute in float32; export with "
                              "--format mxnet for a %s graph" % (dtype, dtype))
        require("onnx", "--format onnx")
    files = export_files(prepare_output(prefix), fmt)
    ctx = net.collect_params().list_ctx()[0]
    if dtype != "float32" and ctx.device_type != "cpu":
        raise GluonCapsError("--dtype %s exports are for CPUs: load the checkpoint on the CPU"
                             % dtype)
    with portable():                    # batch_dot: compiles and loads no fused operators
        net.hybridize()
        inference_network(net, dtype, ctx)
        net(mx.nd.zeros((1,) + tuple(net.input_shape), ctx=ctx))   # the no-mask inference graph
    meta = {"format": META_FORMAT, "model": net.model_name,
            "input_shape": list(net.input_shape), "num_classes": net.num_classes,
            "class_names": class_names(config["dataset"], net.num_classes),
            "labels_per_image": spec.labels_per_image,
            "inputs": ["data"],
            "outputs": ["lengths", "reconstruction"] if net.decoder is not None else ["lengths"],
            "preprocessing": spec.preprocessing(net.input_shape),
            "dataset": config["dataset"], "num_routing": config["num_routing"], "dtype": dtype,
            "checkpoint": checkpoint.path, "epoch": checkpoint.state.get("epoch"),
            "step": checkpoint.state.get("step")}
    try:
        if fmt == "onnx":
            export_onnx(net, files[0], output_names=meta["outputs"])
        else:
            net.export(prefix, epoch=0, remove_amp_cast=False)   # a float32 graph has none
        with open(files[-1], "w") as handle:
            json.dump(meta, handle, indent=1, sort_keys=True)
    except OSError as error:
        raise GluonCapsError("cannot write the export %s: %s"
                             % (prefix, error.strerror or error)) from error
    return list(files)


def read_meta(prefix):
    """The ``PREFIX-meta.json`` of an export, as a dict.

    Raises
    ------
    CheckpointError
        The file is missing, not JSON, or lacks the model's input shape; the message names it.
    """
    path = export_files(prefix)[-1]
    try:
        with open(path) as handle:
            meta = json.load(handle)
    except OSError as error:
        raise CheckpointError("cannot read the export description %s: %s"
                              % (path, error.strerror or error)) from error
    except ValueError as error:
        raise CheckpointError("export description %s is not valid JSON (%s)"
                              % (path, first_line(error))) from error
    if not isinstance(meta, dict) or meta.get("format") != META_FORMAT:
        raise CheckpointError("%s is not a gluon-caps export description (format %s)"
                              % (path, META_FORMAT))
    return meta
