"""Data sets, augmentations and samplers of the paper's experiments (MNIST, MultiMNIST, smallNORB,
affNIST).

Samples are numpy arrays, images float32 in [0, 1] (standardised for smallNORB), channel-first
(C, H, W), labels int32; :class:`mxnet.gluon.data.DataLoader` batches them into NDArrays. Files are
looked up under the data root: the ``root`` argument, else ``$GLUON_CAPS_DATA``, else
``~/.mxnet/datasets``, in the data set's folder (``mnist/``, ``smallnorb/``, ``affnist/``) or
directly in the root.
"""
from .affnist import AffNIST
from .factory import DATASET_NAMES, get_dataset
from .mnist import MNIST
from .multimnist import MultiMNIST
from .norb_transforms import SmallNORBTestTransform, SmallNORBTrainTransform
from .sampler import EpochBatches, ShardSampler
from .seeded import SeededTransform
from .smallnorb import SmallNORB
from .transforms import RandomPlacement, RandomShift, place_image, shift_image

__all__ = ["MNIST", "SmallNORB", "MultiMNIST", "AffNIST", "RandomShift", "RandomPlacement",
           "SmallNORBTrainTransform", "SmallNORBTestTransform", "ShardSampler", "EpochBatches",
           "SeededTransform", "shift_image", "place_image", "get_dataset", "DATASET_NAMES"]
