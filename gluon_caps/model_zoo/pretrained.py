"""Pretrained weights shipped inside the package, verified by sha256 when loaded.

Each entry is ``weights/NAME.json`` beside ``weights/FILE`` (a ``save_parameters`` file): the file
name, its sha256, the training configuration that made it, and how it was made (command, commit,
log). :func:`~gluon_caps.model_zoo.get_model` with ``pretrained=True`` loads them.
"""
import hashlib
import json
import os

from ..errors import CheckpointError, ConfigError

__all__ = ["WEIGHTS_DIR", "pretrained_models", "pretrained_info", "pretrained_file"]

#: Where the weights of the package live.
WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")


def pretrained_models(weights_dir=None):
    """Names of the models with pretrained weights, sorted."""
    directory = weights_dir or WEIGHTS_DIR
    if not os.path.isdir(directory):
        return []
    return sorted(name[:-len(".json")] for name in os.listdir(directory)
                  if name.endswith(".json"))


def pretrained_info(name, weights_dir=None):
    """The description of a model's pretrained weights (``weights/NAME.json``).

    Returns
    -------
    dict
        ``file``, ``sha256``, ``config`` (the training configuration), ``epoch``, ``step``,
        ``val_error``, ``test_error`` and ``made_by`` (command, commit, log).

    Raises
    ------
    ConfigError
        The model has no pretrained weights; the message lists the models that have some.
    CheckpointError
        The description is unreadable; the message names the file.
    """
    directory = weights_dir or WEIGHTS_DIR
    path = os.path.join(directory, name + ".json")
    if not os.path.isfile(path):
        have = pretrained_models(directory)
        raise ConfigError("model %s has no pretrained weights yet (pretrained=True works for: %s)"
                          % (name, ", ".join(have) or "none"))
    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
    except (OSError, ValueError) as error:
        raise CheckpointError("cannot read the description of the pretrained weights %s (%s): "
                              "reinstall gluon-caps" % (path, error)) from error
    if not isinstance(info, dict) or not {"file", "sha256", "config"} <= set(info):
        raise CheckpointError("%s does not describe pretrained weights (file, sha256, config)"
                              % path)
    return info


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pretrained_file(name, weights_dir=None):
    """The verified path of a model's pretrained weights.

    Raises
    ------
    ConfigError
        The model has no pretrained weights.
    CheckpointError
        The file is missing or damaged (its sha256 differs from the shipped one); the message
        names it.
    """
    info = pretrained_info(name, weights_dir)
    path = os.path.join(weights_dir or WEIGHTS_DIR, info["file"])
    try:
        found = _sha256(path)
    except OSError as error:
        raise CheckpointError("the pretrained weights %s cannot be read (%s): reinstall "
                              "gluon-caps" % (path, error.strerror or error)) from error
    if found != info["sha256"]:
        raise CheckpointError("the pretrained weights %s are damaged (sha256 %s, shipped %s): "
                              "reinstall gluon-caps" % (path, found, info["sha256"]))
    return path
