"""ONNX nodes (opset 13) for each MXNet operator of gluon-caps' inference graphs.

:data:`CONVERTERS` maps an MXNet operator name to a function
``convert(graph, inputs, attrs, output)`` that appends the ONNX nodes computing it to ``graph``
(a :class:`~gluon_caps.inference.onnx_graph.OnnxGraph`), reading ``inputs`` (ONNX tensor
names) and writing the tensor ``output``; ``attrs`` are the MXNet attributes, parsed. Shapes
are static except the batch axis, so reshapes get explicit target shapes (MXNet's codes -2,
-3, -4 and ``reshape_like`` have no ONNX form) and only ``broadcast_like`` and ``zeros_like``
compute a shape at run time.

The operators are those of :mod:`gluon_caps.nn`'s blocks and the model zoo, with routing
through ``batch_dot`` (:func:`gluon_caps.ops.portable`), and of the Gluon layers often placed
around them (``Conv2D``, ``Dense``, ``Activation``, ``BatchNorm``, ``MaxPool2D``,
``AvgPool2D``, the global poolings, ``Dropout``, ``Flatten``) and elementwise arithmetic. A
form of one of them that ONNX or this module does not express (e.g. ``softmax`` with a
temperature) raises :class:`Unsupported`.
"""
import numpy as np

from ..errors import ConfigError

__all__ = ["CONVERTERS", "Unsupported"]

INT64_MAX = np.iinfo(np.int64).max

_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softrelu": "Softplus",
                "softsign": "Softsign"}
_BINARY = {"elemwise_add": "Add", "elemwise_sub": "Sub", "elemwise_mul": "Mul",
           "elemwise_div": "Div", "broadcast_add": "Add", "broadcast_sub": "Sub",
           "broadcast_mul": "Mul", "broadcast_div": "Div"}
# MXNet scalar operator -> (ONNX operator, whether the scalar comes first)
_SCALAR = {"_plus_scalar": ("Add", False), "_minus_scalar": ("Sub", False),
           "_rminus_scalar": ("Sub", True), "_mul_scalar": ("Mul", False),
           "_div_scalar": ("Div", False), "_rdiv_scalar": ("Div", True)}
_UNARY = {"sqrt": "Sqrt", "exp": "Exp", "log": "Log", "BlockGrad": "Identity",
          "Flatten": "Flatten"}


class Unsupported(ConfigError):
    """An operator, or a form of one, that the ONNX export does not convert."""


def _convolution(graph, inputs, attrs, output):
    if attrs.get("layout") not in (None, "NCW", "NCHW", "NCDHW"):
        raise Unsupported("layout %s (only channels first)" % attrs["layout"])
    kernel = list(attrs["kernel"])
    graph.node("Conv", inputs, output, kernel_shape=kernel,
               strides=list(attrs.get("stride") or [1] * len(kernel)),
               pads=list(attrs.get("pad") or [0] * len(kernel)) * 2,
               dilations=list(attrs.get("dilate") or [1] * len(kernel)),
               group=attrs.get("num_group", 1))


def _fully_connected(graph, inputs, attrs, output):
    x, weight, bias = inputs[0], inputs[1], inputs[2:]
    if attrs.get("flatten", True):
        if len(graph.shape(x)) != 2:
            x = graph.node("Flatten", [x], axis=1)
        graph.node("Gemm", [x, weight] + bias, output, transB=1)
        return
    product = graph.node("MatMul", [x, graph.node("Transpose", [weight])],
                         None if bias else output)
    if bias:
        graph.node("Add", [product] + bias, output)


def _activation(graph, inputs, attrs, output):
    if attrs["act_type"] not in _ACTIVATIONS:
        raise Unsupported("act_type %s" % attrs["act_type"])
    graph.node(_ACTIVATIONS[attrs["act_type"]], inputs, output)


def _batch_norm(graph, inputs, attrs, output):
    if attrs.get("axis", 1) != 1:
        raise Unsupported("axis %s (only 1, the channels)" % attrs["axis"])
    inputs = list(inputs)
    if attrs.get("fix_gamma", True):                 # MXNet's default: gamma taken as 1
        inputs[1] = graph.constant(np.ones(graph.shape(inputs[1]), np.float32))
    graph.node("BatchNormalization", inputs, output, epsilon=attrs.get("eps", 1e-3))


def _pooling(graph, inputs, attrs, output):
    kind = {"max": "Max", "avg": "Average"}.get(attrs.get("pool_type", "max"))
    if kind is None:
        raise Unsupported("pool_type %s" % attrs["pool_type"])
    if attrs.get("global_pool", False):
        graph.node("Global%sPool" % kind, inputs, output)
        return
    if attrs.get("pooling_convention", "valid") != "valid":
        raise Unsupported("pooling_convention %s (only valid)" % attrs["pooling_convention"])
    kernel = list(attrs["kernel"])
    options = dict(kernel_shape=kernel, strides=list(attrs.get("stride") or [1] * len(kernel)),
                   pads=list(attrs.get("pad") or [0] * len(kernel)) * 2)
    if kind == "Average":
        options["count_include_pad"] = int(attrs.get("count_include_pad", True))
    graph.node("%sPool" % kind, inputs, output, **options)


def _dropout(graph, inputs, attrs, output):
    if attrs.get("mode", "training") != "training":
        raise Unsupported("mode %s (only training: nothing dropped at inference)"
                          % attrs["mode"])
    graph.node("Identity", inputs, output)


def _reshape(graph, inputs, attrs, output):
    graph.node("Reshape", [inputs[0], graph.reshape_target(graph.shape(output))], output)


def _transpose(graph, inputs, attrs, output):
    axes = attrs.get("axes")
    graph.node("Transpose", inputs, output, **({"perm": list(axes)} if axes else {}))


def _expand_dims(graph, inputs, attrs, output):
    graph.node("Unsqueeze", [inputs[0], graph.constant([attrs["axis"]])], output)


def _swap_last_axes(graph, name):
    rank = len(graph.shape(name))
    return graph.node("Transpose", [name], perm=list(range(rank - 2)) + [rank - 1, rank - 2])


def _batch_dot(graph, inputs, attrs, output):
    lhs, rhs = inputs
    if attrs.get("transpose_a", False):
        lhs = _swap_last_axes(graph, lhs)
    if attrs.get("transpose_b", False):
        rhs = _swap_last_axes(graph, rhs)
    graph.node("MatMul", [lhs, rhs], output)


def _sum(graph, inputs, attrs, output):
    rank = len(graph.shape(inputs[0]))
    axis = attrs.get("axis")
    axes = sorted({a % rank for a in ((axis,) if isinstance(axis, int) else axis or ())})
    if attrs.get("exclude", False):
        axes = [a for a in range(rank) if a not in axes]
    axes = axes or list(range(rank))                  # no axes: all of them
    keepdims = attrs.get("keepdims", False)
    if len(axes) == rank and not keepdims:            # MXNet keeps one axis of size 1
        total = graph.node("ReduceSum", [inputs[0], graph.constant(axes)], keepdims=1)
        graph.node("Reshape", [total, graph.constant([1])], output)
        return
    graph.node("ReduceSum", [inputs[0], graph.constant(axes)], output, keepdims=int(keepdims))


def _square(graph, inputs, attrs, output):
    graph.node("Mul", [inputs[0], inputs[0]], output)


def _add_n(graph, inputs, attrs, output):
    graph.node("Sum", inputs, output)


def _concat(graph, inputs, attrs, output):
    graph.node("Concat", inputs, output, axis=attrs.get("dim", 1))


def _slice_axis(graph, inputs, attrs, output):
    end = attrs["end"]
    graph.node("Slice", [inputs[0], graph.constant([attrs["begin"]]),
                         graph.constant([INT64_MAX if end is None else end]),
                         graph.constant([attrs["axis"]])], output)


def _slice(graph, inputs, attrs, output):
    begin, end = attrs["begin"], attrs["end"]
    step = attrs.get("step") or (1,) * len(begin)
    if any(s is not None and s < 1 for s in step):
        raise Unsupported("step %s (only positive steps)" % (step,))
    graph.node("Slice", [inputs[0], graph.constant([0 if b is None else b for b in begin]),
                         graph.constant([INT64_MAX if e is None else e for e in end]),
                         graph.constant(list(range(len(begin)))),
                         graph.constant([1 if s is None else s for s in step])], output)


def _softmax(graph, inputs, attrs, output):
    if attrs.get("temperature") not in (None, 1) or attrs.get("use_length", False):
        raise Unsupported("a temperature or use_length")
    graph.node("Softmax", inputs[:1], output, axis=attrs.get("axis", -1))


def _argmax(graph, inputs, attrs, output):
    if attrs.get("axis") is None:
        raise Unsupported("axis None")
    index = graph.node("ArgMax", inputs, axis=attrs["axis"],
                       keepdims=int(attrs.get("keepdims", False)))
    graph.node("Cast", [index], output, to=graph.FLOAT)       # MXNet's argmax is float32


def _one_hot(graph, inputs, attrs, output):
    if attrs.get("dtype", "float32") != "float32":
        raise Unsupported("dtype %s" % attrs["dtype"])
    values = [attrs.get("off_value", 0.0), attrs.get("on_value", 1.0)]
    graph.node("OneHot", [graph.node("Cast", inputs, to=graph.INT64),
                          graph.constant([attrs["depth"]]),
                          graph.constant(np.array(values, np.float32))], output, axis=-1)


def _zeros_like(graph, inputs, attrs, output):
    graph.node("ConstantOfShape", [graph.node("Shape", inputs)], output,
               value=graph.tensor(np.zeros(1, np.float32)))


def _broadcast_like(graph, inputs, attrs, output):
    graph.node("Expand", [inputs[0], graph.shape_tensor(graph.shape(output))], output)


def _elementwise(op_type):
    def convert(graph, inputs, attrs, output):
        graph.node(op_type, inputs, output)
    return convert


def _scalar(op_type, scalar_first):
    def convert(graph, inputs, attrs, output):
        scalar = graph.constant(np.array(attrs["scalar"], np.float32))
        graph.node(op_type, [scalar, inputs[0]] if scalar_first else [inputs[0], scalar], output)
    return convert


CONVERTERS = dict(
    {"Convolution": _convolution, "FullyConnected": _fully_connected,
     "Activation": _activation, "BatchNorm": _batch_norm, "Pooling": _pooling,
     "Dropout": _dropout, "Reshape": _reshape, "reshape_like": _reshape,
     "transpose": _transpose, "expand_dims": _expand_dims, "batch_dot": _batch_dot,
     "sum": _sum, "square": _square, "add_n": _add_n, "Concat": _concat,
     "slice_axis": _slice_axis, "slice": _slice, "softmax": _softmax, "argmax": _argmax,
     "one_hot": _one_hot, "zeros_like": _zeros_like, "broadcast_like": _broadcast_like},
    **{name: _elementwise(op_type) for name, op_type in _BINARY.items()},
    **{name: _elementwise(op_type) for name, op_type in _UNARY.items()},
    **{name: _scalar(*form) for name, form in _SCALAR.items()})
