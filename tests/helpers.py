"""Helpers of the tests around the fused operators and the exports: whether the operators build
here, a process in which they were never loaded, the operators of a graph, whether onnx and
onnxruntime are installed."""
import importlib.util
import json
import os

import pytest

from gluon_caps import ops


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
