"""AMX for bfloat16 set up at import, safely: the permission asked for, the oneDNN ISA raised
only when granted, and no SIGILL when it is not."""
import os
import subprocess
import sys

import pytest

from gluon_caps import amx

HAS_AMX = {"amx_tile", "amx_bf16"} <= amx.cpu_flags()

#: A bfloat16 convolution through MXNet's AMP conversion, as the bfloat16 models run.
BF16_CONV = """
import mxnet as mx
from mxnet.contrib import amp
net = mx.gluon.nn.HybridSequential()
net.add(mx.gluon.nn.Conv2D(32, 3, in_channels=32))
net.initialize()
net.hybridize()
x = mx.nd.random.uniform(shape=(2, 32, 12, 12))
reference = net(x)
fast = amp.convert_hybrid_block(net, target_dtype="bfloat16", ctx=mx.cpu())
print("max difference", (fast(x).astype("float32") - reference).abs().max().asscalar())
"""


def run_conv(prelude, **env):
    environ = {key: value for key, value in os.environ.items()
               if key not in ("DNNL_MAX_CPU_ISA", amx.ENV_VAR)}
    environ.update(env, DNNL_VERBOSE="1")
    return subprocess.run([sys.executable, "-c", prelude + BF16_CONV], env=environ,
                          capture_output=True, text=True, timeout=300)


def convolution_kernels(result):
    return {line.split(",")[4] for line in result.stdout.splitlines()
            if line.startswith("dnnl_verbose,exec,cpu,convolution")}


@pytest.mark.skipif(not HAS_AMX, reason="this CPU has no AMX")
def test_import_gluon_caps_makes_bfloat16_convolutions_use_amx():
    result = run_conv("import gluon_caps\n")
    assert result.returncode == 0, result.stderr
    assert any("amx" in kernel for kernel in convolution_kernels(result)), result.stdout


@pytest.mark.skipif(not HAS_AMX, reason="this CPU has no AMX")
def test_an_amx_isa_without_the_permission_is_lowered_instead_of_sigill():
    plain = run_conv("", DNNL_MAX_CPU_ISA="AVX512_CORE_AMX")
    assert plain.returncode == -4                        # what gluon_caps protects from: SIGILL
    denied = run_conv("import gluon_caps\n", DNNL_MAX_CPU_ISA="AVX512_CORE_AMX",
                      GLUON_CAPS_AMX="0")
    assert denied.returncode == 0, denied.stderr
    assert "lowered to AVX512_CORE_BF16" in denied.stderr
    kernels = convolution_kernels(denied)
    assert kernels and not any("amx" in kernel for kernel in kernels), denied.stdout


def test_without_amx_nothing_is_asked_or_set(monkeypatch):
    monkeypatch.setattr(amx, "_ask_kernel", lambda: pytest.fail("asked without AMX"))
    environ = {}
    assert amx.request_amx(environ, flags={"avx512_bf16"}) is False
    assert environ == {}
    assert amx.bfloat16_kernels(flags={"avx512_bf16"}) == "avx512_bf16"
    assert amx.bfloat16_kernels(flags=set()) is None


def test_a_refused_permission_keeps_oneDNN_below_amx(monkeypatch):
    monkeypatch.setattr(amx, "_ask_kernel", lambda: False)
    environ = {}
    assert amx.request_amx(environ, flags={"amx_tile", "amx_bf16"}) is False
    assert environ == {}
    environ = {"DNNL_MAX_CPU_ISA": "avx512_core_amx"}
    with pytest.warns(RuntimeWarning, match=r"\(not granted here\) would die with SIGILL .*"
                                            "lowered to AVX512_CORE_BF16"):
        amx.request_amx(environ, flags={"amx_tile", "amx_bf16"})
    assert environ == {"DNNL_MAX_CPU_ISA": "AVX512_CORE_BF16"}
