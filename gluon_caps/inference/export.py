"""Export a checkpoint's network as a hybridized inference graph with a description of its input.

``PREFIX-symbol.json`` and ``PREFIX-0000.params`` load with
``gluon.SymbolBlock.imports(PREFIX + "-symbol.json", ["data"], PREFIX + "-0000.params")`` for any
batch size; the outputs are the capsule lengths ``(B, K)`` and, with a decoder, the reconstruction
of the longest capsule ``(B, C*H*W)``. ``PREFIX-meta.json`` says what the input must be.
"""
import json

from ..errors import CheckpointError, GluonCapsError
from ..ops import portable
from ..data import class_names, get_dataset_spec
from .files import prepare_output
from ..errors import first_line

__all__ = ["export_files", "export_checkpoint", "read_meta"]

META_FORMAT = "gluon-caps-export/1"


def export_files(prefix):
    """The three files of an export: ``(symbol, params, meta)``."""
    return prefix + "-symbol.json", prefix + "-0000.params", prefix + "-meta.json"


def export_checkpoint(checkpoint, prefix):
    """Write a checkpoint's network as ``PREFIX-symbol.json``, ``PREFIX-0000.params`` and
    ``PREFIX-meta.json`` (missing directories are created).

    Parameters
    ----------
    checkpoint : Checkpoint
        From :func:`~gluon_caps.inference.load_checkpoint` (on any device).
    prefix : str
        Path prefix of the files.

    Returns
    -------
    list of str
        The files written.
    """
    import mxnet as mx
    net, config = checkpoint.net, checkpoint.config
    spec = get_dataset_spec(config["dataset"])
    files = export_files(prepare_output(prefix))
    ctx = net.collect_params().list_ctx()[0]
    with portable():                    # batch_dot: compiles and loads no fused operators
        net.hybridize()
        net(mx.nd.zeros((1,) + tuple(net.input_shape), ctx=ctx))   # the no-mask inference graph
    meta = {"format": META_FORMAT, "model": net.model_name,
            "input_shape": list(net.input_shape), "num_classes": net.num_classes,
            "class_names": class_names(config["dataset"], net.num_classes),
            "labels_per_image": spec.labels_per_image,
            "inputs": ["data"],
            "outputs": ["lengths", "reconstruction"] if net.decoder is not None else ["lengths"],
            "preprocessing": spec.preprocessing(net.input_shape),
            "dataset": config["dataset"], "num_routing": config["num_routing"],
            "checkpoint": checkpoint.path, "epoch": checkpoint.state.get("epoch"),
            "step": checkpoint.state.get("step")}
    try:
        net.export(prefix, epoch=0)
        with open(files[2], "w") as handle:
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
    path = export_files(prefix)[2]
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
