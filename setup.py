"""Packaging of gluon-caps. The MXNet variant is chosen by an extra: ``[cpu]`` or ``[gpu]``."""
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    with open(os.path.join(HERE, "gluon_caps", "_version.py")) as handle:
        return re.search(r'__version__ = "([^"]+)"', handle.read()).group(1)


with open(os.path.join(HERE, "README.md")) as handle:
    LONG_DESCRIPTION = handle.read()

setup(
    name="gluon-caps",
    version=read_version(),
    description="Capsule Networks (dynamic routing) in MXNet Gluon with Horovod training",
    long_description=LONG_DESCRIPTION,
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=find_packages(include=["gluon_caps", "gluon_caps.*"]),
    # compiled on first use against the installed MXNet (gluon_caps.ops.build)
    package_data={"gluon_caps.ops": ["capsule_ops.cc"],
                  # pretrained weights and their descriptions (gluon_caps.model_zoo.pretrained)
                  "gluon_caps.model_zoo": ["weights/*.json", "weights/*.params"]},
    python_requires=">=3.8",
    # MXNet itself comes from an extra, so GPU users never install the CPU wheel.
    # MXNet 1.9.1 uses NumPy aliases removed in NumPy 1.24.
    install_requires=[
        "numpy>=1.17,<1.24",
        "click>=7.1",
        "tqdm>=4.60",
        "PyYAML>=5.1",
        "Pillow>=8.0",
        "scipy>=1.5",
        "matplotlib>=3.3",
    ],
    extras_require={
        "cpu": ["mxnet==1.9.1"],
        "gpu": ["mxnet-cu112==1.9.1"],
        # Build with: HOROVOD_WITH_MXNET=1 HOROVOD_WITH_GLOO=1 pip install --no-build-isolation
        # (see docs/install.rst); a plain install builds Horovod without MXNet support.
        "horovod": ["horovod==0.28.1"],
        # ONNX export and onnxruntime's own dependencies, but not onnxruntime: 1.15.1, the oldest
        # with a Python 3.11 wheel, declares numpy>=1.24.2 yet runs with the numpy<1.24 MXNet
        # needs (newer ones pull numpy 2), so it is installed with --no-deps, its version pinned
        # in constraints.txt (see docs/install.rst).
        "onnx": ["onnx==1.14.1", "coloredlogs", "flatbuffers", "packaging", "protobuf", "sympy"],
        "test": ["pytest>=7", "psutil>=5"],
        "docs": ["sphinx>=5,<8", "numpydoc>=1.5", "sphinx-click>=4"],
        "lint": ["flake8>=5"],
    },
    entry_points={"console_scripts": ["gluon-caps = gluon_caps.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.8",
        "Programming Language :: Python :: 3.9",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
