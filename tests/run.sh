#!/usr/bin/env bash
# The test command: set up .venv (see launch/setup_env.sh) and run the whole pytest suite on CPU,
# Horovod and ONNX tests included (they fail rather than skip here, since the setup installs
# Horovod, onnx and onnxruntime).
# Extra arguments go to pytest, e.g.  bash tests/run.sh -m "not slow" -x
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$(bash "$REPO/launch/setup_env.sh" | tail -n 1)"
cd "$REPO"
export GLUON_CAPS_REQUIRE_HOROVOD="${GLUON_CAPS_REQUIRE_HOROVOD:-1}"
export GLUON_CAPS_REQUIRE_ONNX="${GLUON_CAPS_REQUIRE_ONNX:-1}"
exec "$VENV/bin/python" -m pytest "$@"
