"""Write a network's inference graph as an ONNX model that runs without MXNet.

:func:`export_onnx` takes the graph MXNet's ``export`` writes for a hybridized block, with
standard MXNet operators only (:func:`gluon_caps.ops.export_portable`), and writes each of its
operators as standard ONNX operators of opset 13 (:mod:`~gluon_caps.inference.onnx_ops`),
with the parameters as initializers. Its input is ``data`` ``(batch, *input_shape)`` and every
shape in it is static except the batch axis, which stays free: MXNet infers the graph's shapes
at two batch sizes, and each axis either keeps its size or grows with the batch.

Why not MXNet's own exporter (``mx.onnx.export_model``): MXNet 1.9.1 refuses the reshape codes
-2, -3 and -4 of the capsule layers, and it stamps its opset-13 nodes with the newest opset of
the installed ``onnx`` package (19 for onnx 1.14), which onnxruntime 1.15 cannot run
(``Reshape(19)``). With the reshapes rewritten and the opset corrected it does work, but it
computes the shapes of ``reshape_like`` and ``broadcast_like`` at run time from
``Shape``/``GatherND``/``ScatterND`` chains (151 ONNX nodes for the 107 MXNet operators of
``capsnet_mnist``, against 122 here), and onnxruntime warns about its ``Cast`` nodes each time it
loads the model.
"""
import collections
import importlib
import json
import os
import tempfile

import numpy as np

from .._version import __version__
from ..errors import ConfigError, GluonCapsError, first_line
from ..ops import export_portable
from .onnx_ops import CONVERTERS, Unsupported

__all__ = ["OPSET", "IR_VERSION", "BATCH_AXIS", "INSTALL_HINT", "require", "export_onnx",
           "graph_to_onnx", "OnnxGraph"]

#: The ONNX operator set the models use, and the oldest IR version that has it.
OPSET, IR_VERSION = 13, 7
#: Name of the free batch axis of the input and outputs.
BATCH_AXIS = "batch"
INSTALL_HINT = ("pip install \"gluon-caps[onnx]\" -c constraints.txt && pip install --no-deps "
                "onnxruntime -c constraints.txt (see docs/install.rst)")

#: An axis of ``factor`` times the batch size.
Batch = collections.namedtuple("Batch", "factor")


def require(module, what):
    """Import ``module`` (``onnx`` or ``onnxruntime``) for ``what``, or raise
    :class:`~gluon_caps.errors.ConfigError` saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ConfigError("%s needs %s, which cannot be imported here (%s): %s"
                          % (what, module, first_line(error), INSTALL_HINT)) from error


class OnnxGraph(object):
    """An ONNX graph being written: its nodes, its initializers and the shape of each tensor.

    Parameters
    ----------
    onnx : module
        The ``onnx`` package.
    shapes : dict
        Tensor name -> shape, a tuple of ints and :class:`Batch` axes.
    data : str
        The graph's input, whose first axis is the batch.
    """

    def __init__(self, onnx, shapes, data):
        self.onnx = onnx
        self.FLOAT, self.INT64 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64
        self.nodes, self.initializers = [], []
        self._shapes = dict(shapes)
        self._data = data
        self._batch = None
        self._count = collections.Counter()

    def shape(self, name):
        """The shape of tensor ``name``: ints, and :class:`Batch` for an axis that grows with
        the batch."""
        return self._shapes[name]

    def _fresh(self, stem):
        self._count[stem] += 1
        return "%s_%d" % (stem, self._count[stem])

    def node(self, op_type, inputs, output=None, **attrs):
        """Append an ONNX node; return the name of its output (``output``, or a new name)."""
        output = output or self._fresh(op_type.lower())
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [output],
                                                     name=output, **attrs))
        return output

    def tensor(self, values, name=""):
        """``values`` as an ONNX tensor (int64 for Python ints)."""
        array = np.asarray(values)
        if array.dtype.kind == "i":
            array = array.astype(np.int64)
        return self.onnx.numpy_helper.from_array(array, name)

    def constant(self, values):
        """A new initializer holding ``values``; return its name."""
        name = self._fresh("const")
        self.initializers.append(self.tensor(values, name))
        return name

    def parameter(self, name, array):
        """The network's parameter ``name`` as an initializer."""
        self.initializers.append(self.tensor(array, name))

    def reshape_target(self, shape):
        """The target of ``Reshape`` to ``shape``: the sizes, -1 for the axis that grows with
        the batch."""
        return self.constant([-1 if isinstance(size, Batch) else size for size in shape])

    def shape_tensor(self, shape):
        """A tensor holding ``shape`` at run time (the batch axis from the input's size)."""
        if not any(isinstance(size, Batch) for size in shape):
            return self.constant(list(shape))
        if self._batch is None:
            self._batch = self.node("Slice", [self.node("Shape", [self._data]),
                                              self.constant([0]), self.constant([1])])
        parts = [self.constant([size]) if not isinstance(size, Batch)
                 else self._batch if size.factor == 1
                 else self.node("Mul", [self._batch, self.constant([size.factor])])
                 for size in shape]
        return self.node("Concat", parts, axis=0)

    def value_info(self, name, shape):
        """A float32 graph input or output of ``shape``, its batch axis named."""
        dims = [size if not isinstance(size, Batch)
                else BATCH_AXIS if size.factor == 1 else "%d*%s" % (size.factor, BATCH_AXIS)
                for size in shape]
        return self.onnx.helper.make_tensor_value_info(name, self.FLOAT, dims)


def _internal_shapes(symbol, input_shape):
    """Name of every tensor of ``symbol`` -> its shape, with the axes that grow with the batch
    as :class:`Batch` (inferred at batch sizes 2 and 3)."""
    internals = symbol.get_internals()
    names = internals.list_outputs() + internals.list_auxiliary_states()
    at = {}
    for batch in (2, 3):
        _, out_shapes, aux_shapes = internals.infer_shape(data=(batch,) + tuple(input_shape))
        at[batch] = out_shapes + aux_shapes
    shapes = {}
    for name, two, three in zip(names, at[2], at[3]):
        shape = []
        for a, b in zip(two, three):
            if a != b and (a % 2 or a // 2 * 3 != b):
                raise ConfigError("the size of %s changes with the batch other than in "
                                  "proportion: it cannot have a batch axis in ONNX" % name)
            shape.append(Batch(a // 2) if a != b else a)
        shapes[name] = tuple(shape)
    return shapes


def _read_attrs(attrs):
    """MXNet's attribute strings as Python values ("(1, 2)" -> (1, 2), "relu" stays)."""
    import ast
    values = {}
    for key, text in (attrs or {}).items():
        try:
            values[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            values[key] = text
    return values


def graph_to_onnx(symbol_file, params_file, input_shape, output_names=None, name="gluon-caps"):
    """The ONNX model of an MXNet export: ``symbol_file`` (``-symbol.json``) of one input
    ``data`` and its ``params_file`` (``-0000.params``).

    Parameters
    ----------
    symbol_file, params_file : str
    input_shape : tuple of int
        One input without the batch axis, e.g. ``(1, 28, 28)``.
    output_names : list of str, optional
        Names of the graph's outputs, in order; default ``output0``, ``output1``...
    name : str
        Name of the ONNX graph.

    Returns
    -------
    onnx.ModelProto
        Checked by ``onnx.checker`` with full shape inference.

    Raises
    ------
    ConfigError
        The graph has other inputs, another number of outputs, or an operator (or a form of
        one) without an ONNX conversion here; the message names it.
    """
    import mxnet as mx
    onnx = require("onnx", "the ONNX export")
    symbol = mx.sym.load(symbol_file)
    with open(symbol_file) as handle:
        nodes = json.load(handle)
    params = {key.split(":", 1)[1]: value    # an empty file (no parameters) loads as []
              for key, value in (mx.nd.load(params_file) or {}).items()}
    inputs = [arg for arg in symbol.list_arguments() if arg not in params]
    if inputs != ["data"]:
        raise ConfigError("an ONNX export takes a graph of one input, the images; this one "
                          "takes %s (export the graph of a call with the images alone)"
                          % ", ".join(inputs))
    output_names = output_names or ["output%d" % k for k in range(len(nodes["heads"]))]
    if len(output_names) != len(nodes["heads"]):
        raise ConfigError("the graph has %d outputs, not %d (%s)"
                          % (len(nodes["heads"]), len(output_names), ", ".join(output_names)))
    graph = OnnxGraph(onnx, _internal_shapes(symbol, input_shape), "data")
    tensors = []                    # the ONNX tensor of each MXNet node
    for node in nodes["nodes"]:
        if node["op"] == "null":
            tensors.append(node["name"])
            if node["name"] in params:
                graph.parameter(node["name"], params[node["name"]].asnumpy())
            continue
        convert = CONVERTERS.get(node["op"])
        if convert is None:
            raise Unsupported("operator %s (node %s) has no ONNX conversion in gluon-caps; "
                              "these have: %s" % (node["op"], node["name"],
                                                  ", ".join(sorted(CONVERTERS))))
        tensors.append(node["name"] + "_output")
        try:
            convert(graph, [tensors[source] for source, _, _ in node["inputs"]],
                    _read_attrs(node.get("attrs")), tensors[-1])
        except Unsupported as error:
            raise Unsupported("operator %s (node %s) with %s has no ONNX conversion in "
                              "gluon-caps" % (node["op"], node["name"], error)) from error
    outputs = []
    for (source, _, _), output in zip(nodes["heads"], output_names):
        graph.node("Identity", [tensors[source]], output)
        outputs.append(graph.value_info(output, graph.shape(tensors[source])))
    model = onnx.helper.make_model(
        onnx.helper.make_graph(graph.nodes, name, [graph.value_info("data", graph.shape("data"))],
                               outputs, graph.initializers),
        opset_imports=[onnx.helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
        producer_name="gluon-caps", producer_version=__version__)
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(block, path, input_shape=None, output_names=None):
    """Write a hybridized block's graph (that of its last call) as the ONNX model ``path``.

    Parameters
    ----------
    block : HybridBlock
        Hybridized and called once with the images alone, as ``export`` needs: a network of
        the model zoo, of :mod:`gluon_caps.nn` blocks, or of the Gluon layers
        :mod:`~gluon_caps.inference.onnx_ops` converts.
    path : str
        The ``.onnx`` file.
    input_shape : tuple of int, optional
        One input without the batch axis; default the block's ``input_shape``.
    output_names : list of str, optional
        Default ``output0``, ``output1``...

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ConfigError
        No ``onnx`` package, or a graph it cannot express (see :func:`graph_to_onnx`).
    GluonCapsError
        ``path`` cannot be written.

    Examples
    --------
    >>> net = gluon_caps.model_zoo.get_model("capsnet_mnist")
    >>> net.initialize()
    >>> net.hybridize()
    >>> lengths, reconstruction = net(mx.nd.zeros((1, 1, 28, 28)))
    >>> export_onnx(net, "capsnet.onnx", output_names=["lengths", "reconstruction"])
    """
    onnx = require("onnx", "the ONNX export")
    input_shape = input_shape or getattr(block, "input_shape", None)
    if not input_shape:
        raise ConfigError("the ONNX export of %s needs its input_shape (without the batch "
                          "axis)" % type(block).__name__)
    with tempfile.TemporaryDirectory() as directory:
        prefix = os.path.join(directory, "graph")
        export_portable(block, prefix)
        model = graph_to_onnx(prefix + "-symbol.json", prefix + "-0000.params", input_shape,
                              output_names, type(block).__name__)
    try:
        onnx.save(model, path)
    except OSError as error:
        raise GluonCapsError("cannot write the ONNX model %s: %s"
                             % (path, error.strerror or error)) from error
    return path
