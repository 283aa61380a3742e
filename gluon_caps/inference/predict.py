"""Classify image files with a checkpoint or an exported model."""
import collections
import os
import warnings

import numpy as np

from ..checkpoint import check_finite
from ..errors import CheckpointError, ConfigError, first_line
from ..ops import OpsBuildError, load_for_symbol
from ..precision import NO_BFLOAT16, compute_dtype, inference_network
from ..data import class_names, get_dataset_spec
from .export import EXPORT_FORMATS, export_files, read_meta
from .images import load_image
from .loading import PRETRAINED_PREFIX, load_trained
from .onnx_runtime import onnx_session

__all__ = ["Classifier", "load_classifier", "export_prefix", "export_format", "classify_files"]

_EXPORT_SUFFIXES = ("-symbol.json", "-meta.json", "-0000.params", ".onnx")

Classifier = collections.namedtuple("Classifier",
                                    "lengths input_shape class_names labels_per_image source")
Classifier.__doc__ = """A model ready to classify images.

Attributes
----------
lengths : callable
    NDArray images ``(B, C, H, W)`` -> capsule lengths ``(B, K)``.
input_shape : tuple of int
    ``(C, H, W)``.
class_names : list of str
labels_per_image : int
    Classes reported per image (2 for a MultiMNIST model).
source : str
    The checkpoint directory, the export's symbol file or its ``.onnx`` file.
"""


def _split_export(path):
    """``(prefix, suffix)`` of a path that may name a file of an export."""
    for suffix in _EXPORT_SUFFIXES:
        if path.endswith(suffix):
            return path[:-len(suffix)], suffix
    return path, ""


def export_prefix(path):
    """The export prefix ``path`` names (a prefix or one of its files), or ``None``."""
    prefix, suffix = _split_export(path)
    return prefix if suffix or export_format(path) is not None else None


def export_format(path):
    """The format of the export ``path`` names: ``"onnx"`` for a ``.onnx`` file, else
    ``"mxnet"`` where its ``-symbol.json`` is, else ``"onnx"`` where its ``.onnx`` file is, else
    ``None``."""
    prefix, suffix = _split_export(path)
    if suffix == ".onnx":
        return "onnx"
    for fmt in EXPORT_FORMATS:
        if os.path.isfile(export_files(prefix, fmt)[0]):
            return fmt
    return None


def _export_dtype(meta, symbol, dtype, ctx):
    """The dtype an export computes in, checked against ``--dtype`` and this device."""
    exported = meta.get("dtype", "float32")
    if dtype is not None and dtype != exported:
        raise ConfigError("--dtype %s: the export %s computes in %s, as it was exported; export "
                          "the checkpoint again with --dtype %s" % (dtype, symbol, exported, dtype))
    if exported != "float32":
        if ctx.device_type != "cpu":
            raise ConfigError("the export %s computes in %s, which MXNet runs on CPUs only: use "
                              "--ctx cpu, or export the checkpoint in float32" % (symbol, exported))
        try:
            compute_dtype(exported, ctx)
        except ConfigError as error:
            raise ConfigError("the export %s computes in %s, but %s: export the checkpoint again "
                              "with --dtype float32" % (symbol, exported, NO_BFLOAT16)) from error
    return exported


def _from_export(prefix, ctx, dtype=None):
    import mxnet as mx
    from mxnet import MXNetError, gluon
    meta = read_meta(prefix)
    symbol, params, _ = export_files(prefix)
    _export_dtype(meta, symbol, dtype, ctx)
    try:
        load_for_symbol(symbol)
    except OpsBuildError as error:
        raise CheckpointError("the exported model %s uses gluon-caps' fused routing operators, "
                              "which cannot be loaded here (%s); export it again with "
                              "gluon-caps export" % (symbol, error)) from error
    if os.path.isfile(params):              # a missing one is named by the import below
        try:
            check_finite(mx.nd.load(params), params)
        except MXNetError as error:
            raise CheckpointError("%s is not a readable MXNet parameter file (%s)"
                                  % (params, first_line(error))) from error
    try:
        with warnings.catch_warnings():     # MXNet cannot infer the dtype of the data input
            warnings.filterwarnings("ignore", "Cannot decide type", UserWarning)
            block = gluon.SymbolBlock.imports(symbol, ["data"], params, ctx=ctx)
    except (MXNetError, AssertionError, ValueError, OSError) as error:
        raise CheckpointError("cannot load the exported model %s with %s (%s)"
                              % (symbol, params, first_line(error))) from error

    def lengths(x):                         # a graph of one output gives it alone
        outputs = block(x)
        return outputs[0] if len(meta["outputs"]) > 1 else outputs
    return Classifier(lengths, tuple(meta["input_shape"]), list(meta["class_names"]),
                      int(meta.get("labels_per_image", 1)), symbol)


def _from_onnx(prefix, dtype=None):
    import mxnet as mx
    meta = read_meta(prefix)
    path = export_files(prefix, "onnx")[0]
    if dtype not in (None, "float32"):
        raise ConfigError("--dtype %s: the ONNX model %s computes in float32" % (dtype, path))
    session = onnx_session(path)
    inputs = [(graph_input.name, list(graph_input.shape[1:]))
              for graph_input in session.get_inputs()]
    outputs = [output.name for output in session.get_outputs()]
    if inputs != [("data", list(meta["input_shape"]))] or outputs != meta["outputs"]:
        raise CheckpointError("the ONNX model %s does not fit its description %s: it takes %s "
                              "and gives %s" % (path, export_files(prefix)[-1], inputs, outputs))

    def lengths(x):
        return mx.nd.array(session.run(outputs[:1], {"data": x.asnumpy()})[0], ctx=x.context)
    return Classifier(lengths, tuple(meta["input_shape"]), list(meta["class_names"]),
                      int(meta.get("labels_per_image", 1)), path)


def _from_checkpoint(path, ctx, dtype=None):
    from ..scoring import class_lengths
    checkpoint = load_trained(path, ctx)
    net, dataset = checkpoint.net, checkpoint.config["dataset"]
    inference_network(net, dtype or "float32", ctx)
    return Classifier(lambda x: class_lengths(net, x), tuple(net.input_shape),
                      class_names(dataset, net.num_classes),
                      get_dataset_spec(dataset).labels_per_image, checkpoint.path)


def load_classifier(path, ctx=None, dtype=None):
    """A classifier from a checkpoint (run directory, checkpoint directory or a file in one), an
    export (its ``PREFIX``, ``PREFIX-symbol.json``, ``PREFIX-meta.json`` or ``PREFIX.onnx``; a
    prefix names its MXNet export where there is one, see :func:`export_format`) or the
    pretrained weights of a zoo model (``pretrained:NAME``).

    An ONNX model runs in onnxruntime on the CPU (:func:`~gluon_caps.inference.onnx_session`);
    the classifier still takes and returns NDArrays.

    Parameters
    ----------
    path : str
    ctx : mxnet.Context, optional
        Default the CPU; where the images and lengths are (an ONNX model computes on the CPU).
    dtype : {None, 'float32', 'bfloat16'}
        What a checkpoint's network computes in (:mod:`gluon_caps.precision`; ``None``:
        float32). An export computes in the dtype it was exported in (its ``meta.json`` says
        which); another ``dtype`` is refused.

    Raises
    ------
    CheckpointError
        Nothing loadable there; the message names the path.
    ConfigError
        A ``dtype`` this machine cannot compute in, or one other than an export's; an ONNX
        model where ``onnx`` or ``onnxruntime`` is not installed.
    """
    import mxnet as mx
    ctx = ctx or mx.cpu()
    prefix = export_prefix(path)
    if prefix is not None and export_format(path) == "onnx":
        return _from_onnx(prefix, dtype)
    if prefix is not None:
        return _from_export(prefix, ctx, dtype)
    if not os.path.exists(path) and not path.startswith(PRETRAINED_PREFIX):
        raise CheckpointError("model %s is neither a checkpoint nor an export (no %s)"
                              % (path, export_files(path)[0]))
    return _from_checkpoint(path, ctx, dtype)


def classify_files(classifier, paths, ctx=None, invert=False, batch_size=64):
    """Classify image files (see :func:`~gluon_caps.inference.load_image`).

    Returns
    -------
    list of dict
        Per file: ``image``, ``class`` (the longest capsule), ``name``, ``classes`` (the
        ``labels_per_image`` longest, longest first), ``lengths`` (all ``K``) and ``notes`` (how
        the image was fitted to the input).
    """
    import mxnet as mx
    results = []
    for start in range(0, len(paths), batch_size):
        chunk = paths[start:start + batch_size]
        images = [load_image(path, classifier.input_shape, invert) for path in chunk]
        x = mx.nd.array(np.stack([image for image, _ in images]), ctx=ctx or mx.cpu())
        for path, (_, notes), row in zip(chunk, images, classifier.lengths(x).asnumpy()):
            order = [int(index) for index in np.argsort(-row, kind="stable")]
            results.append({"image": path, "class": order[0],
                            "name": classifier.class_names[order[0]],
                            "classes": order[:classifier.labels_per_image],
                            "lengths": [float(value) for value in row], "notes": notes})
    return results
