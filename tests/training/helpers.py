"""Helpers of the launcher tests: small MNIST roots in the real format, process runners."""
import os
import subprocess
import sys

import mxnet as mx

from gluon_caps.data.idx import write_idx

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN = os.path.join(REPO, "launch", "train.py")
MNIST_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
               "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def write_mnist_root(root, train, test):
    """Write ``(images, labels)`` uint8 arrays as the four official gzip IDX files of ``root``."""
    for split, (images, labels) in (("train", train), ("test", test)):
        image_file, label_file = MNIST_FILES[split]
        write_idx(os.path.join(root, image_file), images)
        write_idx(os.path.join(root, label_file), labels)
    return str(root)


def tiny_flags(root, output, **overrides):
    """Flags of a small, fast, deterministic run on a root written above (with the default
    augmentation, seeded like every draw of the data pipeline)."""
    flags = {"model": "capsnet_mnist", "dataset": "mnist", "data-root": root, "output": output,
             "batch-size": 16, "epochs": 2, "val-size": 32, "num-workers": 0, "seed": 3}
    flags.update({key.replace("_", "-"): value for key, value in overrides.items()})
    args = []
    for key, value in flags.items():
        args += ["--" + key] + ([] if value is True else [str(value)])
    return args


def environment():
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("GLUON_CAPS_DATA", None)
    return env


def run_train(args, timeout=600, **kwargs):
    """Run ``python launch/train.py ARGS`` in one process; return the CompletedProcess."""
    return subprocess.run([sys.executable, TRAIN] + list(args), env=environment(),
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def horovodrun_command(num_workers):
    """``horovodrun -np N -H localhost:N --gloo python launch/train.py`` from this Python's venv."""
    return [os.path.join(os.path.dirname(sys.executable), "horovodrun"), "-np", str(num_workers),
            "-H", "localhost:%d" % num_workers, "--gloo", sys.executable, TRAIN]


def final_params(run_dir):
    """Parameters of a run's newest checkpoint, name -> NumPy array."""
    from gluon_caps.checkpoint import latest_checkpoint
    loaded = mx.nd.load(os.path.join(latest_checkpoint(run_dir), "model.params"))
    return {name: array.asnumpy() for name, array in loaded.items()}
