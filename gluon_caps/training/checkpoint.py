"""Atomic training checkpoints through Gluon.

A run directory holds ``checkpoints/epoch-EEEE-step-SSSSSSSS/`` directories, each with
``model.params`` (``save_parameters``), ``trainer.states`` (``Trainer.save_states``) and
``state.json`` (epoch, step, config, metric history, random states). A checkpoint is written into
a hidden temporary directory and renamed into place when complete, so a crash never leaves a
half-written checkpoint: what :func:`list_checkpoints` sees is always whole. The last
``keep`` checkpoints and the best one by validation error are kept.
"""
import json
import os
import shutil

from ..errors import CheckpointError

__all__ = ["PARAMS", "STATES", "STATE", "save_checkpoint", "list_checkpoints",
           "latest_checkpoint", "best_checkpoint", "find_checkpoint", "read_state"]

PARAMS, STATES, STATE = "model.params", "trainer.states", "state.json"
_SUBDIR = "checkpoints"
_TEMP_PREFIX = ".partial-"


def _fsync_dir(path):
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def save_checkpoint(run_dir, net, trainer, state, keep=3):
    """Write a checkpoint atomically and prune old ones.

    Parameters
    ----------
    run_dir : str
        The run directory; checkpoints go to ``run_dir/checkpoints``.
    net : gluon.Block
        Saved with ``save_parameters``.
    trainer : gluon.Trainer
        Saved with ``save_states``.
    state : dict
        JSON-serialisable; must hold ``epoch`` and ``step``; ``val_error`` ranks the best.
    keep : int
        Number of latest checkpoints kept besides the best.

    Returns
    -------
    str
        The checkpoint directory.
    """
    root = os.path.join(run_dir, _SUBDIR)
    os.makedirs(root, exist_ok=True)
    name = "epoch-%04d-step-%08d" % (state["epoch"], state["step"])
    final = os.path.join(root, name)
    temp = os.path.join(root, _TEMP_PREFIX + name + "-%d" % os.getpid())
    shutil.rmtree(temp, ignore_errors=True)
    os.makedirs(temp)
    try:
        net.save_parameters(os.path.join(temp, PARAMS))
        trainer.save_states(os.path.join(temp, STATES))
        with open(os.path.join(temp, STATE), "w") as handle:
            json.dump(state, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    _fsync_dir(temp)
    if os.path.exists(final):                    # the same step saved again (e.g. on a signal)
        stale = os.path.join(root, _TEMP_PREFIX + name + "-old-%d" % os.getpid())
        os.rename(final, stale)
        os.rename(temp, final)
        shutil.rmtree(stale)
    else:
        os.rename(temp, final)
    _fsync_dir(root)
    _prune(run_dir, keep)
    return final


def read_state(checkpoint_dir):
    """The ``state.json`` of a checkpoint directory, as a dict."""
    path = os.path.join(checkpoint_dir, STATE)
    try:
        with open(path) as handle:
            state = json.load(handle)
    except OSError as error:
        raise CheckpointError("cannot read checkpoint state %s: %s"
                              % (path, error.strerror)) from error
    except ValueError as error:
        raise CheckpointError("checkpoint state %s is not valid JSON" % path) from error
    if not isinstance(state, dict) or "config" not in state or "step" not in state:
        raise CheckpointError("checkpoint state %s lacks the config and step of a gluon-caps run"
                              % path)
    return state


def _is_complete(path):
    return all(os.path.isfile(os.path.join(path, name)) for name in (PARAMS, STATES, STATE))


def list_checkpoints(run_dir):
    """Complete checkpoint directories of a run, oldest first (empty when there are none)."""
    root = os.path.join(run_dir, _SUBDIR)
    if not os.path.isdir(root):
        return []
    names = sorted(name for name in os.listdir(root) if not name.startswith(_TEMP_PREFIX))
    return [os.path.join(root, name) for name in names if _is_complete(os.path.join(root, name))]


def latest_checkpoint(run_dir):
    """The newest complete checkpoint of a run, or ``None``."""
    checkpoints = list_checkpoints(run_dir)
    return checkpoints[-1] if checkpoints else None


def best_checkpoint(run_dir):
    """The complete checkpoint with the lowest validation error (the newest on ties), or the
    newest when none has one; ``None`` when the run has no checkpoint."""
    scored = []
    for order, path in enumerate(list_checkpoints(run_dir)):
        error = read_state(path).get("val_error")
        scored.append((error is None, error if error is not None else 0.0, -order, path))
    return min(scored)[-1] if scored else None


def _prune(run_dir, keep):
    checkpoints = list_checkpoints(run_dir)
    best = best_checkpoint(run_dir)
    for path in checkpoints[:-keep]:
        if path != best:
            shutil.rmtree(path)


def find_checkpoint(path, prefer="best"):
    """Resolve what a user names as a checkpoint to a complete checkpoint directory.

    Parameters
    ----------
    path : str
        A run directory (its best or latest checkpoint), a checkpoint directory, or a file in one.
    prefer : {'best', 'latest'}
        Which checkpoint of a run directory.

    Raises
    ------
    CheckpointError
        When nothing there is a complete gluon-caps checkpoint; the message names the path.
    """
    if not os.path.exists(path):
        raise CheckpointError("checkpoint %s does not exist" % path)
    if os.path.isfile(path):
        path = os.path.dirname(os.path.abspath(path))
    if _is_complete(path):
        return path
    found = best_checkpoint(path) if prefer == "best" else latest_checkpoint(path)
    if found is None:
        raise CheckpointError("%s holds no complete gluon-caps checkpoint (expected %s/*/ with "
                              "%s, %s and %s)" % (path, _SUBDIR, PARAMS, STATES, STATE))
    return found
