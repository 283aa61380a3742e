#!/usr/bin/env bash
# Quick start: set up .venv (launch/setup_env.sh), train CapsNet on MNIST with 2 Horovod workers
# (Gloo, CPU) for a short run, then evaluate it. Data: $GLUON_CAPS_DATA, else ../shared/data
# beside this checkout, else ~/.mxnet/datasets (downloaded when online).
# Where only the 10,000 MNIST test images exist, it trains on 8,000 of them and scores on the other
# 2,000: a pipeline check, not a paper figure. Extra arguments go to launch/train.py.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$(bash "$REPO/launch/setup_env.sh" | tail -n 1)"
export PATH="$VENV/bin:$PATH"
cd "$REPO"

DATA="${GLUON_CAPS_DATA:-}"
if [ -z "$DATA" ] && [ -d "$REPO/../shared/data" ]; then DATA="$(cd "$REPO/../shared/data" && pwd)"; fi
DATA="${DATA:-$HOME/.mxnet/datasets}"
has() { [ -f "$DATA/mnist/$1" ] || [ -f "$DATA/$1" ]; }
if has train-images-idx3-ubyte.gz || has train-images-idx3-ubyte; then
    CONFIG=launch/configs/mnist.yaml; EXTRA=(--epochs 1 --max-steps 80)
elif has t10k-images-idx3-ubyte.gz; then
    echo "[quickstart] only the MNIST test images are in $DATA: pipeline check on 8,000/2,000 of them" >&2
    CONFIG=launch/configs/mnist-t10k.yaml; EXTRA=(--epochs 1 --max-steps 120)
else
    echo "[quickstart] no MNIST files in $DATA: downloading them" >&2
    CONFIG=launch/configs/mnist.yaml; EXTRA=(--epochs 1 --max-steps 80 --download)
fi
OUTPUT="runs/quickstart-$(date +%Y%m%d-%H%M%S)"

horovodrun -np 2 -H localhost:2 --gloo \
    python launch/train.py --config "$CONFIG" --data-root "$DATA" --output "$OUTPUT" \
    --num-workers 0 "${EXTRA[@]}" "$@"
gluon-caps evaluate "$OUTPUT" --data-root "$DATA"
echo "[quickstart] run directory: $OUTPUT (log.jsonl, checkpoints/)" >&2
