"""Data sets by name, for configuration files and command lines."""
from ..errors import ConfigError
from .affnist import AffNIST
from .checks import check_choice
from .mnist import MNIST
from .multimnist import MultiMNIST
from .smallnorb import SmallNORB

__all__ = ["get_dataset", "DATASET_NAMES"]


def _mnist_t10k(root=None, split="train", **kwargs):
    """The "mnist-t10k split": MNIST(split="t10k-train" / "t10k-val"), a pipeline check only."""
    return MNIST(root, "t10k-" + check_choice("split", split, ("train", "val")), **kwargs)


_DATASETS = {  # name -> (constructor taking (root, split, **kwargs), default split)
    "mnist": (MNIST, "train"),
    "mnist-t10k": (_mnist_t10k, "train"),
    "multimnist": (MultiMNIST, "train"),
    "smallnorb": (SmallNORB, "train"),
    "affnist": (AffNIST, "test"),
}
DATASET_NAMES = tuple(_DATASETS)


def get_dataset(name, root=None, split=None, **kwargs):
    """Build a data set by name.

    Parameters
    ----------
    name : str
        ``"mnist"``, ``"mnist-t10k"`` (splits ``"train"``/``"val"``: the 8,000/2,000 partition of
        the MNIST test images for pipeline checks, not for paper figures), ``"multimnist"``,
        ``"smallnorb"`` or ``"affnist"``.
    root : str or None
        Data root (or, for affNIST, a ``.mat`` file); ``None``: ``$GLUON_CAPS_DATA``, else
        ``~/.mxnet/datasets``.
    split : str or None
        The split; ``None`` means ``"test"`` for affNIST and ``"train"`` for the others.
    **kwargs
        Passed on to the data set's constructor.

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the valid ones) or split.
    """
    if name not in _DATASETS:
        raise ConfigError("unknown dataset %r; valid names: %s" % (name, ", ".join(DATASET_NAMES)))
    constructor, default_split = _DATASETS[name]
    return constructor(root, split or default_split, **kwargs)
