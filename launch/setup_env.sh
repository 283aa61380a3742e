#!/usr/bin/env bash
# Create or refresh the project's virtual environment (.venv, or $GLUON_CAPS_VENV) with gluon-caps,
# MXNet 1.9.1 (CPU), numpy<1.24, the test/docs/lint tools, onnx and onnxruntime, and Horovod built
# with MXNet and Gloo.
# Needs only Python 3.8-3.11, gcc/g++ and cmake. Idempotent: a second run installs nothing.
# Usage: bash launch/setup_env.sh   (prints the venv's path on its last line)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GLUON_CAPS_VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
PY="$VENV/bin/python"
CONSTRAINTS="$REPO/constraints.txt"

say() { echo "[setup_env] $*" >&2; }

if [ ! -x "$PY" ]; then
    say "creating $VENV with $($PYTHON --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.gluon-caps-requirements"
wanted="$(cat "$REPO/setup.py" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
    say "installing gluon-caps[cpu,test,docs,lint,onnx] (numpy pinned by constraints.txt)"
    "$PY" -m pip install --quiet --upgrade pip wheel setuptools -c "$CONSTRAINTS"
    "$PY" -m pip install --quiet -e "$REPO[cpu,test,docs,lint,onnx]" -c "$CONSTRAINTS"
    # its metadata asks for numpy>=1.24.2, which MXNet cannot import: its version is in
    # constraints.txt, its other dependencies come with the onnx extra (docs/install.rst)
    say "installing onnxruntime without its dependencies"
    "$PY" -m pip install --quiet --no-deps onnxruntime -c "$CONSTRAINTS"
    echo "$wanted" > "$stamp"
fi

if ! "$PY" -c "import horovod.mxnet" >/dev/null 2>&1; then
    if ! command -v g++ >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            say "installing g++ (Horovod is C++)"
            apt-get update -qq && apt-get install -y -qq g++ >/dev/null
        else
            say "Horovod needs a C++ compiler: install g++ and run this again"; exit 1
        fi
    fi
    say "building Horovod 0.28.1 with MXNet + Gloo (about 3 minutes on 2 cores)"
    # CMake >= 4 rejects gloo's old cmake_minimum_required: the policy floor keeps it building.
    HOROVOD_WITH_MXNET=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 \
    HOROVOD_WITHOUT_TENSORFLOW=1 HOROVOD_WITHOUT_PYTORCH=1 \
    CMAKE_POLICY_VERSION_MINIMUM=3.5 MAKEFLAGS="-j$(nproc)" \
        "$PY" -m pip install --quiet --no-build-isolation --no-cache-dir horovod==0.28.1 \
        -c "$CONSTRAINTS"
    "$PY" -c "import horovod.mxnet" || { say "Horovod built without MXNet support"; exit 1; }
fi
echo "$VENV"
