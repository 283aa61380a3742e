"""The data of each experiment of the paper: training, validation and test sets, built from a
training configuration, and how a batch of each becomes the network's inputs and targets."""
import copy
import functools

import mxnet as mx
import numpy as np
from mxnet import gluon

from ..data import (MNIST, AffNIST, MultiMNIST, RandomPlacement, RandomShift, SeededTransform,
                    SmallNORB, SmallNORBTestTransform, SmallNORBTrainTransform, place_image)
from ..data.mnist import holdout_split
from ..errors import ConfigError

__all__ = ["Subset", "build_datasets", "prepare_batch", "predictions",
           "count_errors"]

_AFFNIST_CANVAS = 40


class Subset(gluon.data.Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self._dataset = dataset
        self._indices = np.asarray(indices, dtype=np.int64)

    def __len__(self):
        return len(self._indices)

    def __getitem__(self, index):
        return self._dataset[int(self._indices[index])]


def _center_on_canvas(image, canvas=_AFFNIST_CANVAS):
    margin = (canvas - image.shape[-1]) // 2
    return place_image(image, canvas, margin, margin)


def _mnist_sets(config, prefix=""):
    root, seed, download = config["data_root"], config["seed"], config["download"]
    if prefix:          # the mnist-t10k check: 8,000 / 2,000 of the official test images
        train, val = (MNIST(root, prefix + split, seed=seed, download=download)
                      for split in ("train", "val"))
        return train, val, val
    val_size = config["val_size"]
    return (MNIST(root, "train", val_size=val_size, seed=seed, download=download),
            MNIST(root, "val", val_size=val_size, seed=seed, download=download)
            if val_size else None,
            MNIST(root, "test", download=download))


def _mnist(config, prefix=""):
    train, val, test = _mnist_sets(config, prefix)
    return train, RandomShift(2), val, test


def multimnist_test_set(mnist_test, config):
    """The MultiMNIST test pairs of a run: from the MNIST test images, with the run's
    ``eval_pairs_per_image`` and a seed of its own (the same for training and the CLI)."""
    return MultiMNIST(mnist_test, pairs_per_image=config["eval_pairs_per_image"],
                      seed=config["seed"] + 2)


def _multimnist(config):
    train, val, test = _mnist_sets(config)
    seed = config["seed"]
    return (MultiMNIST(train, pairs_per_image=config["pairs_per_image"], seed=seed), None,
            MultiMNIST(val, pairs_per_image=config["eval_pairs_per_image"], seed=seed + 1)
            if val is not None else None,
            multimnist_test_set(test, config))


def _smallnorb(config):
    root, val_size = config["data_root"], config["val_size"]
    centered = SmallNORB(root, "train", transform=SmallNORBTestTransform())
    test = SmallNORB(root, "test")
    if val_size >= len(centered):
        raise ConfigError("val_size %d must be smaller than the %d smallNORB training images"
                          % (val_size, len(centered)))
    rest, held = holdout_split(len(centered), val_size, config["seed"])
    if config["augment"]:       # the random crop and jitter start from the 48x48 pair
        training, augment = copy.copy(centered), SmallNORBTrainTransform()
        training.transform = _unchanged
    else:
        training, augment = centered, None
    return (Subset(training, rest), augment, Subset(centered, held) if val_size else None,
            test)


def _unchanged(image):
    return image


def _affnist(config):
    train, val, _ = _mnist_sets(config)
    if not config["augment"]:
        train, place = train.transform_first(_center_on_canvas), None
    else:
        place = RandomPlacement(_AFFNIST_CANVAS)
    return (train, place,
            val.transform_first(_center_on_canvas) if val is not None else None,
            AffNIST(config["data_root"], "test"))


_BUILDERS = {"mnist": _mnist, "mnist-t10k": functools.partial(_mnist, prefix="t10k-"),
             "multimnist": _multimnist,
             "smallnorb": _smallnorb, "affnist": _affnist}


def build_datasets(config):
    """Training, validation and test sets of an experiment.

    ``mnist``: the official training set less ``val_size`` held-out images (shift augmentation),
    the held-out images, the official test set. ``mnist-t10k``: 8,000 / 2,000 of the official
    *test* images for pipeline checks where the training images are absent (validation and test
    are then the same 2,000 images: never a paper figure). ``multimnist``: pairs generated from
    those MNIST splits. ``smallnorb``: the training set less ``val_size`` images, and the test
    set. ``affnist``: MNIST digits placed at random on a 40x40 canvas for training, centred for
    validation, and the affNIST test set.

    The training set is a :class:`~gluon_caps.data.SeededTransform`: read with the
    ``(epoch, index)`` keys of :class:`~gluon_caps.data.EpochBatches`, its augmentation (with
    ``augment``) draws from ``(seed, epoch, index)`` alone, the same in every worker and on resume.

    Returns
    -------
    tuple of Dataset
        ``(train, val, test)``; ``val`` is ``None`` when ``val_size`` is 0.
    """
    train, augment, val, test = _BUILDERS[config["dataset"]](config)
    return (SeededTransform(train, augment if config["augment"] else None, config["seed"]),
            val, test)


def prepare_batch(batch, num_classes, ctx):
    """Network inputs and targets of a DataLoader batch.

    Returns
    -------
    x : NDArray
        Images ``(B, C, H, W)``.
    target : NDArray
        k-hot class targets ``(B, K)`` of the margin loss.
    mask : NDArray
        Decoder masks: ``(B, K)``, or ``(B, 2, K)`` for two digits (one reconstruction each).
    reconstruction_target : NDArray
        ``(B, C, H, W)``, or the two single digits ``(B, 2, C, H, W)``.
    labels : NDArray
        ``(B,)`` or ``(B, 2)`` class indices.
    """
    x = batch[0].as_in_context(ctx)
    labels = batch[1].as_in_context(ctx)
    mask = mx.nd.one_hot(labels, num_classes)                                  # (B, [2,] K)
    if len(batch) == 3:                                                        # two digits
        return x, mask.sum(axis=1), mask, batch[2].as_in_context(ctx), labels
    return x, mask, mask, x, labels


def predictions(lengths, labels):
    """Predicted classes as int64 NumPy: the longest capsule ``(B,)``, or the two longest
    ``(B, 2)`` when ``labels`` has two classes per image."""
    if labels.ndim == 1:
        return lengths.argmax(axis=1).astype("int64").asnumpy()
    return lengths.topk(k=2, axis=1).astype("int64").asnumpy()


def count_errors(predicted, truth):
    """Number of misclassified images; with two labels an image is right only when its two
    longest capsules are exactly its two classes (the paper's MultiMNIST scoring)."""
    truth = np.asarray(truth, dtype=np.int64)
    if truth.ndim == 1:
        return int((predicted != truth).sum())
    return int((np.sort(predicted, axis=1) != np.sort(truth, axis=1)).any(axis=1).sum())
