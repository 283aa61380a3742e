"""The data sets of the paper's experiments by name: the one place that knows, for each, how its
splits are built from a configuration, its classes, labels per image, preprocessing and input
shape. Training, evaluation, export metadata and the configuration's choices all read it.

>>> from gluon_caps.data import get_dataset_spec
>>> spec = get_dataset_spec("smallnorb")
>>> spec.input_shape, spec.class_names[:2]
((2, 32, 32), ('animal', 'human'))
"""
import collections
import copy

from ..errors import ConfigError
from .affnist import AffNIST
from .mnist import MNIST, holdout_split
from .multimnist import MultiMNIST
from .norb_transforms import SmallNORBTestTransform, SmallNORBTrainTransform
from .seeded import SeededTransform
from .smallnorb import SmallNORB
from .subset import Subset
from .transforms import RandomPlacement, RandomShift, place_image

__all__ = ["DatasetSpec", "DATASET_NAMES", "EVAL_DATASETS", "get_dataset_spec", "class_names",
           "build_splits", "eval_split"]

DatasetSpec = collections.namedtuple(
    "DatasetSpec", "name input_shape class_names labels_per_image preprocessing train val test "
    "about")
DatasetSpec.__doc__ = """What gluon-caps knows of one data set.

Attributes
----------
name : str
input_shape : tuple of int
    ``(C, H, W)`` of its samples as the network takes them.
class_names : tuple of str
labels_per_image : int
    1, or 2 for MultiMNIST (an image is right only when both its classes are found).
preprocessing : callable
    ``preprocessing(input_shape) -> dict``: how an image becomes the input (for export
    metadata): ``grayscale``, ``channels``, ``scale``, ``foreground``, ``standardize``,
    ``resize`` and a sentence ``text``.
train : callable
    ``train(config) -> (dataset, augment)``: the training samples and the random transform of
    their image (``None`` without augmentation or when ``config["augment"]`` is off); see
    :func:`build_splits`.
val : callable
    ``val(config) -> dataset or None``: the validation hold-out (``None`` when ``val_size`` is 0).
test : callable
    ``test(config) -> dataset``: the test set.
about : str
    One sentence for people.
"""

_DIGITS = tuple(str(digit) for digit in range(10))
_NORB_CLASSES = ("animal", "human", "airplane", "truck", "car")
_AFFNIST_CANVAS = 40


def _digit_preprocessing(input_shape):
    _, height, width = input_shape
    return {"grayscale": True, "channels": "gray", "scale": [0.0, 1.0], "foreground": "light",
            "standardize": False, "resize": [height, width],
            "text": "grayscale, %dx%d, pixel / 255 in [0, 1], white digit on a black "
                    "background (invert dark-on-light images)" % (height, width)}


def _norb_preprocessing(input_shape):
    _, height, width = input_shape
    return {"grayscale": True, "channels": "left and right camera", "scale": [0.0, 1.0],
            "foreground": None, "standardize": True, "resize": [height, width],
            "text": "the two 96x96 camera images downsampled to 48x48 (2x2 average), pixel / "
                    "255, the central %dx%d patch, then per-image standardisation (zero "
                    "mean, unit variance over both channels)" % (height, width)}


def _mnist_split(config, split):
    """MNIST ``split`` of a run: the training images less the hold-out, the hold-out (``None``
    when ``val_size`` is 0), or the test images."""
    root, download = config["data_root"], config["download"]
    if split == "test":
        return MNIST(root, "test", download=download)
    if split == "val" and not config["val_size"]:
        return None
    return MNIST(root, split, val_size=config["val_size"], seed=config["seed"],
                 download=download)


def _t10k_split(config, split):
    """The pipeline-check partition of the *test* images: 8,000 to train on, 2,000 for both
    validation and test (never a paper figure)."""
    return MNIST(config["data_root"], "t10k-" + split, seed=config["seed"],
                 download=config["download"])


def _pairs(config, split):
    """MultiMNIST pairs of the MNIST ``split``, each split with a seed of its own."""
    offset = {"train": 0, "val": 1, "test": 2}[split]
    digits = _mnist_split(config, split)
    if digits is None:
        return None
    per_image = config["pairs_per_image" if split == "train" else "eval_pairs_per_image"]
    return MultiMNIST(digits, pairs_per_image=per_image, seed=config["seed"] + offset)


def _centered(image, canvas=_AFFNIST_CANVAS):
    margin = (canvas - image.shape[-1]) // 2
    return place_image(image, canvas, margin, margin)


def _on_canvas(config, split):
    digits = _mnist_split(config, split)
    return digits.transform_first(_centered) if digits is not None else None


def _affnist_train(config):
    if config["augment"]:
        return _mnist_split(config, "train"), RandomPlacement(_AFFNIST_CANVAS)
    return _on_canvas(config, "train"), None


def _unchanged(image):
    return image


def _norb_holdout(config):
    """The smallNORB training pairs with the test preprocessing, and the run's hold-out."""
    centered = SmallNORB(config["data_root"], "train", transform=SmallNORBTestTransform())
    if config["val_size"] >= len(centered):
        raise ConfigError("val_size %d must be smaller than the %d smallNORB training images"
                          % (config["val_size"], len(centered)))
    return centered, holdout_split(len(centered), config["val_size"], config["seed"])


def _norb_train(config):
    centered, (rest, _) = _norb_holdout(config)
    if not config["augment"]:
        return Subset(centered, rest), None
    raw = copy.copy(centered)               # the random crop and jitter start from 48x48
    raw.transform = _unchanged
    return Subset(raw, rest), SmallNORBTrainTransform()


def _norb_val(config):
    if not config["val_size"]:
        return None
    centered, (_, held) = _norb_holdout(config)
    return Subset(centered, held)


_SPECS = [
    DatasetSpec("mnist", (1, 28, 28), _DIGITS, 1, _digit_preprocessing,
                lambda config: (_mnist_split(config, "train"), RandomShift(2)),
                lambda config: _mnist_split(config, "val"),
                lambda config: _mnist_split(config, "test"),
                "the official training set less val_size held-out images (shifts of up to 2 px), "
                "the held-out images, the official test set"),
    DatasetSpec("mnist-t10k", (1, 28, 28), _DIGITS, 1, _digit_preprocessing,
                lambda config: (_t10k_split(config, "train"), RandomShift(2)),
                lambda config: _t10k_split(config, "val"),
                lambda config: _t10k_split(config, "val"),
                "8,000 / 2,000 of the official *test* images, for pipeline checks where the "
                "training images are absent (validation and test are the same 2,000 images: "
                "never a paper figure)"),
    DatasetSpec("multimnist", (1, 36, 36), _DIGITS, 2, _digit_preprocessing,
                lambda config: (_pairs(config, "train"), None),
                lambda config: _pairs(config, "val"),
                lambda config: _pairs(config, "test"),
                "pairs of overlapping digits generated from those MNIST splits"),
    DatasetSpec("smallnorb", (2, 32, 32), _NORB_CLASSES, 1, _norb_preprocessing,
                _norb_train, _norb_val, lambda config: SmallNORB(config["data_root"], "test"),
                "the training set less val_size pairs (random crops, brightness and contrast), "
                "the held-out pairs, the test set"),
    DatasetSpec("affnist", (1, _AFFNIST_CANVAS, _AFFNIST_CANVAS), _DIGITS, 1,
                _digit_preprocessing, _affnist_train,
                lambda config: _on_canvas(config, "val"),
                lambda config: AffNIST(config["data_root"], "test"),
                "MNIST digits placed at random on a 40x40 canvas for training, centred for "
                "validation, and the affNIST test set"),
]
_REGISTRY = collections.OrderedDict((spec.name, spec) for spec in _SPECS)

#: Names of the registered data sets.
DATASET_NAMES = tuple(_REGISTRY)
#: Names of the evaluation sets: each data set's test split by its name, its validation split
#: as ``NAME-val``.
EVAL_DATASETS = DATASET_NAMES + tuple(name + "-val" for name in DATASET_NAMES)


def get_dataset_spec(name):
    """The :class:`DatasetSpec` of a registered data set.

    Raises
    ------
    ConfigError
        For an unknown name; the message lists the valid ones.
    """
    if name not in _REGISTRY:
        raise ConfigError("unknown dataset %r; valid names: %s" % (name, ", ".join(DATASET_NAMES)))
    return _REGISTRY[name]


def class_names(name, num_classes):
    """The names of the classes of data set ``name`` for a network with ``num_classes`` class
    capsules (their indices as text when the two do not match)."""
    names = get_dataset_spec(name).class_names
    return list(names) if len(names) == num_classes else [str(index)
                                                          for index in range(num_classes)]


def build_splits(config):
    """Training, validation and test sets of a run's configuration (``dataset``, ``data_root``,
    ``seed``, ``val_size``, ``augment``...).

    The training set is a :class:`~gluon_caps.data.SeededTransform`: read with the
    ``(epoch, index)`` keys of :class:`~gluon_caps.data.EpochBatches`, its augmentation (with
    ``augment``) draws from ``(seed, epoch, index)`` alone, the same in every worker and on
    resume.

    Returns
    -------
    tuple of Dataset
        ``(train, val, test)``; ``val`` is ``None`` when ``val_size`` is 0.
    """
    spec = get_dataset_spec(config["dataset"])
    train, augment = spec.train(config)
    return (SeededTransform(train, augment if config["augment"] else None, config["seed"]),
            spec.val(config), spec.test(config))


def eval_split(name, config):
    """An evaluation set by name (:data:`EVAL_DATASETS`) for a run's configuration.

    Returns
    -------
    spec : DatasetSpec
    dataset : mxnet.gluon.data.Dataset

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the valid ones), or a run without a validation
        split asked for one.
    """
    if name not in EVAL_DATASETS:
        raise ConfigError("unknown dataset %r; valid names: %s" % (name, ", ".join(EVAL_DATASETS)))
    validation = name.endswith("-val")
    spec = get_dataset_spec(name[:-len("-val")] if validation else name)
    dataset = spec.val(config) if validation else spec.test(config)
    if dataset is None:
        raise ConfigError("%s: the run holds out no validation images (val_size 0)" % name)
    return spec, dataset
