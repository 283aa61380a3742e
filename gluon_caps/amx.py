"""This CPU's bfloat16 kernels: AMX made usable safely, before MXNet's first kernel.

oneDNN 2.4.4 (inside MXNet 1.9.1) uses Intel AMX only when ``DNNL_MAX_CPU_ISA=AVX512_CORE_AMX``
is set before its first primitive runs, and Linux (5.16 and later) lets a process use the AMX
tiles only after it asks with ``arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)``; a process
that runs an AMX kernel without asking dies with SIGILL. :func:`request_amx` asks, and sets the
ISA only when the kernel granted the permission; ``import gluon_caps`` calls it. Without the
permission (or AMX), oneDNN's bfloat16 kernels use AVX-512 BF16 where the CPU has it.

A process that ran an MXNet kernel before ``import gluon_caps`` keeps the ISA oneDNN chose then
(AVX-512 BF16 at most); ``GLUON_CAPS_AMX=0`` skips the request, as on a kernel that refuses it.
"""
import ctypes
import os
import platform
import sys
import warnings

__all__ = ["ENV_VAR", "AMX_ISA", "cpu_flags", "request_amx", "bfloat16_kernels"]

#: ``0`` skips the AMX permission request (and so AMX).
ENV_VAR = "GLUON_CAPS_AMX"
#: The oneDNN ISA cap that lets it use AMX.
AMX_ISA = "AVX512_CORE_AMX"

_SYS_ARCH_PRCTL = 158            # x86-64 syscall number
_ARCH_REQ_XCOMP_PERM = 0x1023
_XFEATURE_XTILEDATA = 18
_granted = {"amx": None}


def cpu_flags(path="/proc/cpuinfo"):
    """The feature flags Linux reports for this CPU (an empty set elsewhere)."""
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _ask_kernel():
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(_SYS_ARCH_PRCTL, _ARCH_REQ_XCOMP_PERM, _XFEATURE_XTILEDATA) == 0


def request_amx(environ=os.environ, flags=None):
    """Ask Linux for the AMX tiles and, if granted, let oneDNN use them.

    Where the CPU has AMX (``amx_tile``, ``amx_bf16``), ``GLUON_CAPS_AMX`` is not ``0`` and the
    kernel grants the permission, sets ``DNNL_MAX_CPU_ISA=AVX512_CORE_AMX`` unless it is set.
    Otherwise an AMX cap already in the environment, which would crash at the first bfloat16
    kernel, is lowered to ``AVX512_CORE_BF16`` with a warning.

    Returns
    -------
    bool
        Whether this process may use AMX.
    """
    flags = cpu_flags() if flags is None else flags
    granted = ({"amx_tile", "amx_bf16"} <= flags and environ.get(ENV_VAR, "").strip() != "0"
               and _ask_kernel())
    if granted:
        environ.setdefault("DNNL_MAX_CPU_ISA", AMX_ISA)
    elif environ.get("DNNL_MAX_CPU_ISA", "").upper().startswith(AMX_ISA):
        warnings.warn("DNNL_MAX_CPU_ISA=%s without the AMX permission (%s) would die with "
                      "SIGILL at the first AMX kernel: lowered to AVX512_CORE_BF16"
                      % (environ["DNNL_MAX_CPU_ISA"],
                         "%s=0" % ENV_VAR if environ.get(ENV_VAR, "").strip() == "0"
                         else "not granted here"), RuntimeWarning, stacklevel=2)
        environ["DNNL_MAX_CPU_ISA"] = "AVX512_CORE_BF16"
    _granted["amx"] = granted
    return granted


def bfloat16_kernels(flags=None):
    """What computes bfloat16 here: ``'amx'``, ``'avx512_bf16'``, or ``None`` (no bfloat16
    instructions: bfloat16 would only be emulated, slower than float32)."""
    flags = cpu_flags() if flags is None else flags
    if _granted["amx"] and os.environ.get("DNNL_MAX_CPU_ISA", "").upper() == AMX_ISA:
        return "amx"
    return "avx512_bf16" if "avx512_bf16" in flags else None
