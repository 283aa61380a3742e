"""Helpers of the tests around the fused operators and the exports: whether the operators build
here, a process in which they were never loaded, the operators of a graph, whether onnx and
onnxruntime are installed."""
import importlib.util
import json
import os

import numpy as np
import pytest

from gluon_caps import ops

#: The fused operators of a DenseCaps that routes without storing its predictions, with the
#: default routing (gradients through the last of several iterations).
# The fused operators of three routing iterations without predictions (detach_intermediate):
# the first weighted sum, then one fused step per iteration, the last one differentiable.
ROUTED_OPERATORS = {"caps_routed_sum_detached", "caps_routed_step_detached", "caps_routed_step"}


def require_fused_ops():
    """Skip the calling test where the fused operators cannot be built or loaded."""
    try:
        return ops.load()
    except ops.OpsBuildError as error:
        pytest.skip("the fused operators cannot be built here: %s" % error)


def unload_fused_ops(monkeypatch, cache):
    """As if this process had never loaded the fused operators: the empty cache directory
    ``cache``, ``GLUON_CAPS_FUSED_OPS`` unset (``auto``)."""
    monkeypatch.setattr(ops, "_loaded", {"path": None, "error": None, "warned": False})
    monkeypatch.setenv("GLUON_CAPS_CACHE", str(cache))
    monkeypatch.delenv(ops.ENV_VAR, raising=False)


def without_compiler(monkeypatch, cache):
    """:func:`unload_fused_ops` on a machine without a C++ compiler (``CXX=nope``); returns the
    list to which every attempt to build the library appends."""
    unload_fused_ops(monkeypatch, cache)
    monkeypatch.setenv("CXX", "nope")
    attempts, build_library = [], ops.build_library

    def counted():
        attempts.append(1)
        return build_library()
    monkeypatch.setattr(ops, "build_library", counted)
    return attempts


def graph_operators(block):
    """The operators of a hybridized block's cached graph (the graph of its last call)."""
    return {node["op"] for node in json.loads(block._cached_graph[1].tojson())["nodes"]}


def symbol_operators(prefix):
    """The operators of an exported graph ``PREFIX-symbol.json``."""
    with open(prefix + "-symbol.json") as handle:
        return {node["op"] for node in json.load(handle)["nodes"]}


def require_onnx():
    """Skip the calling test where onnx or onnxruntime is not installed, except under
    ``GLUON_CAPS_REQUIRE_ONNX=1`` (``tests/run.sh``, whose environment has them), where their
    absence is a failure."""
    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        if os.environ.get("GLUON_CAPS_REQUIRE_ONNX") == "1":
            pytest.fail("%s required (GLUON_CAPS_REQUIRE_ONNX=1)" % " and ".join(missing))
        pytest.skip("%s not installed" % " and ".join(missing))


def numerical_gradient(function, x, step=1e-6):
    """Central differences of the scalar ``function()`` with respect to the float64 array ``x``,
    which it reads (and which is moved in place and put back)."""
    gradient = np.zeros_like(x)
    for position in np.ndindex(*x.shape):
        x[position] += step
        forward = function()
        x[position] -= 2 * step
        backward = function()
        x[position] += step
        gradient[position] = (forward - backward) / (2 * step)
    return gradient
