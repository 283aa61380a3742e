"""Compile the fused routing operators against the installed MXNet, once per machine.

The library is built with the C++ compiler of the machine it runs on (``-march=native``) into a
cache directory, under a name that hashes everything it depends on, so a later MXNet, a changed
source, another compiler or another CPU gets a library of its own. Concurrent builds (Horovod
workers on one host) each write a temporary file and rename it into place.
"""
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tempfile

from ..errors import GluonCapsError

__all__ = ["OpsBuildError", "SOURCE", "cache_dir", "compile_command", "build_library"]

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "capsule_ops.cc")
# -Bsymbolic: Horovod makes libmxnet.so's own copy of the extension API global; bind to ours.
FLAGS = ("-shared", "-fPIC", "-std=c++11", "-O3", "-march=native", "-fopenmp", "-Wl,-Bsymbolic")
BUILD_TIMEOUT_S = 600


class OpsBuildError(GluonCapsError, RuntimeError):
    """The fused operators cannot be compiled or loaded here; the message says why."""


def cache_dir():
    """``$GLUON_CAPS_CACHE``, else ``$XDG_CACHE_HOME/gluon-caps``, else ``~/.cache/gluon-caps``."""
    if os.environ.get("GLUON_CAPS_CACHE"):
        return os.environ["GLUON_CAPS_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gluon-caps")


def _mxnet_sources():
    """The extension API of the installed MXNet: its include directory, ``lib_api.h`` and
    ``lib_api.cc``."""
    import mxnet as mx
    root = os.path.dirname(os.path.abspath(mx.__file__))
    include = os.path.join(root, "include")
    header = os.path.join(include, "mxnet", "lib_api.h")
    lib_api = os.path.join(root, "src", "lib_api.cc")
    for path in (header, lib_api):
        if not os.path.isfile(path):
            raise OpsBuildError("MXNet %s at %s has no extension API file %s"
                                % (mx.__version__, root, path))
    return include, header, lib_api


def _compiler():
    name = os.environ.get("CXX", "g++")
    found = shutil.which(name)
    if found is None:
        raise OpsBuildError("no C++ compiler %r on PATH (set CXX to choose one)" % name)
    return found


def compile_command(output):
    """The compiler command line that builds the library into ``output``."""
    include, _, lib_api = _mxnet_sources()
    return [_compiler()] + list(FLAGS) + [SOURCE, lib_api, "-I" + include, "-o", output]


def _cpu_identity():
    """What ``-march=native`` depends on: the CPU's model and feature flags where Linux tells."""
    try:
        with open("/proc/cpuinfo") as handle:
            lines = [line for line in handle
                     if line.startswith(("model name", "flags", "Features"))]
        return "".join(sorted(set(lines)))
    except OSError:
        return platform.processor()


def _library_name():
    """A name that changes with everything the build depends on: the command (compiler, flags,
    paths), the source and MXNet's extension API, and the CPU."""
    digest = hashlib.sha256(" ".join(compile_command("OUTPUT")).encode())
    _, header, lib_api = _mxnet_sources()
    for path in (SOURCE, header, lib_api):
        with open(path, "rb") as handle:
            digest.update(handle.read())
    digest.update(platform.machine().encode())
    digest.update(_cpu_identity().encode())
    return "capsule_ops-%s.so" % digest.hexdigest()[:16]


def build_library():
    """Path to the compiled library, building it first if this machine has none yet.

    Raises
    ------
    OpsBuildError
        No compiler, no MXNet extension API, an unwritable cache or a failed compilation.
    """
    directory = cache_dir()
    path = os.path.join(directory, _library_name())
    if os.path.isfile(path):
        return path
    try:
        os.makedirs(directory, exist_ok=True)
        handle, partial = tempfile.mkstemp(prefix=".building-", suffix=".so", dir=directory)
        os.close(handle)
    except OSError as error:
        raise OpsBuildError("cannot write to the cache directory %s (%s); set GLUON_CAPS_CACHE"
                            % (directory, error))
    command = compile_command(partial)
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True, timeout=BUILD_TIMEOUT_S)
        if result.returncode != 0:
            tail = "\n".join(result.stdout.strip().splitlines()[-15:])
            raise OpsBuildError("compiling the fused routing operators failed:\n  %s\n%s"
                                % (" ".join(shlex.quote(part) for part in command), tail))
        os.replace(partial, path)
    except subprocess.TimeoutExpired:
        raise OpsBuildError("compiling the fused routing operators took over %d s"
                            % BUILD_TIMEOUT_S)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return path
