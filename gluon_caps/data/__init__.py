"""Data sets, augmentations and samplers of the paper's experiments (MNIST, MultiMNIST, smallNORB,
affNIST).

Samples are numpy arrays, images float32 in [0, 1] (standardised for smallNORB), channel-first
(C, H, W), labels int32; :class:`mxnet.gluon.data.DataLoader` batches them into NDArrays. Files are
looked up under the data root: the ``root`` argument, else ``$GLUON_CAPS_DATA``, else
``~/.mxnet/datasets``, in the data set's folder (``mnist/``, ``smallnorb/``, ``affnist/``) or
directly in the root.
"""
from .affnist import AffNIST
from .mnist import MNIST
from .multimnist import MultiMNIST
from .norb_transforms import SmallNORBTestTransform, SmallNORBTrainTransform
from .batch import prepare_batch
from .registry import (DATASET_NAMES, EVAL_DATASETS, DatasetSpec, build_splits, class_names,
                       eval_split, get_dataset_spec)
from .sampler import EpochBatches, ShardSampler
from .seeded import SeededTransform
from .subset import Subset
from .smallnorb import SmallNORB
from .transforms import RandomPlacement, RandomShift, place_image, shift_image

__all__ = ["MNIST", "SmallNORB", "MultiMNIST", "AffNIST", "RandomShift", "RandomPlacement",
           "SmallNORBTrainTransform", "SmallNORBTestTransform", "ShardSampler", "EpochBatches",
           "SeededTransform", "Subset", "shift_image", "place_image", "prepare_batch",
           "DatasetSpec", "DATASET_NAMES", "EVAL_DATASETS", "get_dataset_spec", "class_names",
           "build_splits", "eval_split"]
