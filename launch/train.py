"""Train a CapsNet with Horovod data parallelism (Gloo on CPUs, NCCL on GPUs), or in one process.

    horovodrun -np 4 python launch/train.py --config launch/configs/mnist.yaml
    python launch/train.py --config launch/configs/mnist.yaml --epochs 1
    horovodrun -np 2 python launch/train.py --resume runs/mnist
    python launch/train.py --config launch/configs/mnist.yaml --seeds 0,1,2

``python launch/train.py --help`` lists one flag per config field. The training loop is library
code: :func:`gluon_caps.training.fit`; this script only runs
:func:`gluon_caps.training.launcher.main`.
"""
import os
import sys

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:                                    # run from a checkout, not installed
    sys.path.insert(0, _REPO)

if __name__ == "__main__":
    from gluon_caps.training.launcher import main
    sys.exit(main())
