"""The evaluation data sets of a checkpoint, by name, fitted to the model's input (the data sets
themselves come from the registry of :mod:`gluon_caps.data`)."""
import collections
import functools

import numpy as np

from ..data import EVAL_DATASETS, Subset, class_names, eval_split, place_image
from ..errors import ConfigError, DataNotFoundError, format_shape

__all__ = ["EVAL_DATASETS", "EvalData", "eval_data", "take"]

EvalData = collections.namedtuple("EvalData", "name dataset class_names labels_per_image")
EvalData.__doc__ = """Images to score a checkpoint on.

Attributes
----------
name : str
    One of :data:`~gluon_caps.data.EVAL_DATASETS`.
dataset : mxnet.gluon.data.Dataset
    Samples ``(image, label[, ...])`` shaped as the model's input.
class_names : list of str
    The name of each class.
labels_per_image : int
    1, or 2 for MultiMNIST (both classes must be found).
"""


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
                      % (name, format_shape(shape), net.model_name, format_shape(wanted)))


def eval_data(checkpoint, name=None, data_root=None, limit=None):
    """The images a checkpoint is scored on.

    Parameters
    ----------
    checkpoint : Checkpoint
        From :func:`~gluon_caps.inference.load_checkpoint`.
    name : str, optional
        One of :data:`~gluon_caps.data.EVAL_DATASETS`: a data set's test split by its name, its
        validation split (the run's hold-out) as ``NAME-val``; default the test split of the
        data set the checkpoint was trained on.
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
    config = dict(checkpoint.config, download=False)
    if data_root:
        config["data_root"] = data_root
    name = name or config["dataset"]
    try:
        spec, dataset = eval_split(name, config)
    except ConfigError as error:
        raise ConfigError("--dataset: %s" % error) from error
    except DataNotFoundError as error:
        raise DataNotFoundError("%s; or pass --data-root DIR" % error) from error
    dataset = _fit(dataset, name, checkpoint.net)
    if limit is not None and limit < len(dataset):
        dataset = Subset(dataset, np.arange(limit))
    return EvalData(name, dataset, class_names(spec.name, checkpoint.net.num_classes),
                    spec.labels_per_image)


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
