"""The evaluation data sets of a checkpoint: test splits by name, fitted to the model's input."""
import collections
import functools

import numpy as np

from ..data import MNIST, AffNIST, SmallNORB, place_image
from ..errors import ConfigError, DataNotFoundError

__all__ = ["EVAL_DATASETS", "EvalData", "eval_data", "class_names", "labels_per_image", "take"]

SMALLNORB_CLASSES = ("animal", "human", "airplane", "truck", "car")

EvalData = collections.namedtuple("EvalData", "name dataset class_names labels_per_image")
EvalData.__doc__ = """Images to score a checkpoint on.

Attributes
----------
name : str
    One of :data:`EVAL_DATASETS`.
dataset : mxnet.gluon.data.Dataset
    Samples ``(image, label[, ...])`` shaped as the model's input.
class_names : list of str
    The name of each class.
labels_per_image : int
    1, or 2 for MultiMNIST (both classes must be found).
"""


def _mnist_val(root, config):
    return MNIST(root, "val", val_size=config["val_size"] or None, seed=config["seed"])


def _multimnist(root, config):
    from ..training.experiments import multimnist_test_set
    return multimnist_test_set(MNIST(root, "test"), config)


_LOADERS = collections.OrderedDict([
    ("mnist", lambda root, config: MNIST(root, "test")),
    ("mnist-val", _mnist_val),
    ("mnist-t10k", lambda root, config: MNIST(root, "t10k-val", seed=config["seed"])),
    ("affnist", lambda root, config: AffNIST(root, "test")),
    ("multimnist", _multimnist),
    ("smallnorb", lambda root, config: SmallNORB(root, "test")),
])
#: Names of the evaluation sets: ``mnist`` (the 10,000 official test images), ``mnist-val``
#: (the run's validation hold-out of the training images: its ``val_size`` and ``seed``),
#: ``mnist-t10k`` (the 2,000 held-out test images of the pipeline-check split), ``affnist``
#: (the affNIST test set), ``multimnist`` (the run's test pairs) and ``smallnorb`` (test set).
EVAL_DATASETS = tuple(_LOADERS)


def class_names(dataset, num_classes):
    """The class names of a data set by name: digits, or the smallNORB categories."""
    if dataset == "smallnorb" and num_classes == len(SMALLNORB_CLASSES):
        return list(SMALLNORB_CLASSES)
    return [str(index) for index in range(num_classes)]


def labels_per_image(dataset):
    """Classes per image of a data set by name: 2 for MultiMNIST, else 1."""
    return 2 if dataset == "multimnist" else 1


def _fit(dataset, name, net):
    """``dataset`` with images shaped as the model's input: as they are, or centred on the larger
    canvas of a model trained on padded digits (affNIST's 40x40)."""
    shape = tuple(np.shape(dataset[0][0]))
    wanted = tuple(net.input_shape)
    if shape == wanted:
        return dataset
    channels, height, width = wanted
    if shape[0] == channels and height == width and shape[1] == shape[2] <= height:
        margin = (height - shape[1]) // 2
        return dataset.transform_first(
            functools.partial(place_image, canvas=height, top=margin, left=margin))
    raise ConfigError("--dataset %s gives %s images but model %s takes %s"
                      % (name, "x".join(map(str, shape)), net.model_name,
                         "x".join(map(str, wanted))))


def eval_data(checkpoint, name=None, data_root=None, limit=None):
    """The images a checkpoint is scored on.

    Parameters
    ----------
    checkpoint : Checkpoint
        From :func:`~gluon_caps.inference.load_checkpoint`.
    name : str, optional
        One of :data:`EVAL_DATASETS`; default the test split of the dataset the checkpoint was
        trained on (for ``mnist-t10k``, its 2,000 held-out images).
    data_root : str, optional
        Default: the configuration's ``data_root``, else ``$GLUON_CAPS_DATA``.
    limit : int, optional
        Keep the first ``limit`` images.

    Returns
    -------
    EvalData

    Raises
    ------
    ConfigError
        An unknown name, or images of another shape than the model's input.
    DataNotFoundError
        A data file is missing; the message names it.
    """
    from ..training.experiments import Subset
    config = checkpoint.config
    name = name or config["dataset"]
    if name not in _LOADERS:
        raise ConfigError("--dataset: unknown dataset %r; valid names: %s"
                          % (name, ", ".join(EVAL_DATASETS)))
    try:
        dataset = _LOADERS[name](data_root or config.get("data_root"), config)
    except DataNotFoundError as error:
        raise DataNotFoundError("%s; or pass --data-root DIR" % error) from error
    dataset = _fit(dataset, name, checkpoint.net)
    if limit is not None and limit < len(dataset):
        dataset = Subset(dataset, np.arange(limit))
    return EvalData(name, dataset, class_names(name, checkpoint.net.num_classes),
                    labels_per_image(name))


def take(dataset, indices):
    """Images and labels of the samples at ``indices``, stacked as NumPy arrays.

    Returns
    -------
    images : numpy.ndarray
        float32 ``(N, C, H, W)``.
    labels : numpy.ndarray
        int64 ``(N,)``, or ``(N, 2)`` for two-digit samples.
    """
    samples = [dataset[int(index)] for index in indices]
    return (np.stack([sample[0] for sample in samples]).astype(np.float32),
            np.stack([np.asarray(sample[1]) for sample in samples]).astype(np.int64))
