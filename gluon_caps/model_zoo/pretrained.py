"""Pretrained weights shipped inside the package, verified by sha256 when loaded.

Each entry is ``weights/NAME.json`` beside ``weights/FILE`` (a ``save_parameters`` file): the file
name, its sha256, the training configuration that made it, and how it was made (command, commit,
log). :func:`~gluon_caps.model_zoo.get_model` with ``pretrained=True`` loads them.
"""
import hashlib
import json
import os
import shutil

from ..errors import CheckpointError, ConfigError

__all__ = ["WEIGHTS_DIR", "pretrained_models", "pretrained_info", "pretrained_file", "publish"]

#: Configuration fields that name places on the machine that trained, left out of the package
#: (a file ``initial_params`` names is described by ``started_from`` instead).
MACHINE_FIELDS = ("output", "data_root", "initial_params")

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


def _started_from(config, name, directory):
    """What a run's ``initial_params`` started it from: the description of the pretrained
    weights it continued (read before they are replaced), or a file's name and sha256; ``None``
    for a random initialisation."""
    initial = config.get("initial_params")
    if not initial:
        return None
    if initial == "pretrained":
        return pretrained_info(name, directory)
    return {"file": os.path.basename(initial), "sha256": _sha256(initial)}


def publish(checkpoint_dir, name, test_error, made_by, weights_dir=None):
    """Make a checkpoint the pretrained weights of ``name``: copy its ``model.params`` to
    ``weights/NAME.params`` and describe it in ``weights/NAME.json`` (written last, so a
    description always names a complete file).

    Parameters
    ----------
    checkpoint_dir : str
        A complete checkpoint directory (its ``state.json`` gives configuration, epoch, step and
        validation error).
    name : str
        The zoo model the weights are for.
    test_error : float
        The run's test error, scored once with this checkpoint.
    made_by : dict
        How the weights were made: ``commands``, ``commits``, ``log``.
    weights_dir : str, optional
        Default the package's :data:`WEIGHTS_DIR`.

    Returns
    -------
    dict
        The description written. A run started from other weights (``initial_params``) is
        described with them: ``started_from`` holds the description of the pretrained weights
        it continued, or the name and sha256 of its file.
    """
    from ..checkpoint import PARAMS, _write_json, read_state
    state = read_state(checkpoint_dir)
    model = state["config"]["model"]
    if model != name:
        raise ConfigError("%s holds a %s, not a %s" % (checkpoint_dir, model, name))
    directory = weights_dir or WEIGHTS_DIR
    target = os.path.join(directory, name + ".params")
    try:
        started_from = _started_from(state["config"], name, directory)
        os.makedirs(directory, exist_ok=True)
        shutil.copyfile(os.path.join(checkpoint_dir, PARAMS), target + ".tmp")
        os.replace(target + ".tmp", target)
        info = {"file": os.path.basename(target), "sha256": _sha256(target),
                "config": {key: value for key, value in state["config"].items()
                           if key not in MACHINE_FIELDS},
                "started_from": started_from,
                "epoch": state["epoch"], "step": state["step"],
                "val_error": state.get("val_error"), "test_error": test_error,
                "made_by": made_by}
        _write_json(os.path.join(directory, name + ".json"), info)
    except OSError as error:
        raise CheckpointError("cannot publish %s as the weights of %s in %s: %s"
                              % (checkpoint_dir, name, directory,
                                 error.strerror or error)) from error
    return info
