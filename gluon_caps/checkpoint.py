"""Atomic training checkpoints through Gluon.

A run directory holds ``checkpoints/epoch-EEEE-step-SSSSSSSS/`` directories, each with
``model.params`` (``save_parameters``), ``optimizer.params`` (the optimizer's state arrays, e.g.
Adam's moments, through ``mx.nd.save``) and ``state.json`` (epoch, step, config, metric history,
and the optimizer's counters and the layout of its arrays). Nothing is pickled, so loading a
checkpoint runs no code from it: MXNet's ``Trainer.save_states`` pickles, and the
``trainer.states`` of older checkpoints is refused, never read. A checkpoint is written into
a hidden temporary directory and renamed into place when complete, so a crash never leaves a
half-written checkpoint: what :func:`list_checkpoints` sees is always whole. The last
``keep`` checkpoints and the best one by validation error are kept.
"""
import collections
import json
import os
import shutil
import sys
import tempfile

import mxnet as mx
import numpy as np

from .errors import CheckpointError, ConfigError, first_line, format_shape

__all__ = ["PARAMS", "OPTIMIZER", "STATE", "save_checkpoint", "record_validation",
           "remove_partials", "list_checkpoints", "latest_checkpoint", "best_checkpoint",
           "find_checkpoint", "read_state", "check_finite", "optimizer_state",
           "load_optimizer_state", "load_parameters", "ResumePoint", "read_resume_point",
           "Checkpoint", "load_checkpoint"]

PARAMS, OPTIMIZER, STATE = "model.params", "optimizer.params", "state.json"
#: The pickled optimizer file of checkpoints before gluon-caps 0.2; refused, never unpickled.
PICKLED_STATES = "trainer.states"
_SUBDIR = "checkpoints"
_TEMP_PREFIX = ".partial-"


def _fsync(path):
    """Flush a file's or a directory's contents to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _flatten(key, value, arrays):
    """The layout of a nested tuple of NDArrays (None kept), its arrays added to ``arrays``."""
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        return [_flatten("%s.%d" % (key, position), item, arrays)
                for position, item in enumerate(value)]
    arrays[key] = value
    return key


def _unflatten(layout, arrays):
    if layout is None:
        return None
    if isinstance(layout, list):
        return tuple(_unflatten(item, arrays) for item in layout)
    return arrays[layout]


def optimizer_state(trainer):
    """The optimizer state of a Gluon trainer (with a local updater, as without a kvstore and
    under Horovod), without pickle.

    Returns
    -------
    arrays : dict of str to NDArray
        Every state array (Adam's mean and variance per parameter), for ``mx.nd.save``.
    description : dict
        JSON: the update counters (which Adam's bias correction and the learning-rate schedule
        follow) and the layout of ``arrays``.
    """
    updater, optimizer = trainer._updaters[0], trainer._optimizer
    arrays = {}
    layout = {str(index): _flatten(str(index), value, arrays)
              for index, value in updater.states.items()}
    counts = {}
    for device_counts in optimizer._all_index_update_counts.values():
        for index, count in device_counts.items():
            counts[str(index)] = max(count, counts.get(str(index), 0))
    return arrays, {"num_update": optimizer.num_update, "index_update_count": counts,
                    "layout": layout}


def load_optimizer_state(trainer, arrays, description):
    """Give a Gluon trainer the optimizer state :func:`optimizer_state` returned.

    The arrays move to each parameter's device on the next update; the learning-rate schedule is
    a function of the update count, so it continues where it stopped.
    """
    optimizer = trainer._optimizer
    states = {int(index): _unflatten(layout, arrays)
              for index, layout in description["layout"].items()}
    for updater in trainer._updaters:
        updater.states = dict(states)
        updater.states_synced = dict.fromkeys(states, False)
    counts = {int(index): int(count) for index, count in description["index_update_count"].items()}
    devices = set(optimizer._all_index_update_counts) | {0}
    optimizer._all_index_update_counts = {device: dict(counts) for device in devices}
    optimizer._index_update_count = optimizer._all_index_update_counts[0]
    optimizer.num_update = int(description["num_update"])


def _write_json(path, obj):
    """Write JSON to ``path`` atomically (a temporary file renamed over it)."""
    temp = "%s.tmp-%d" % (path, os.getpid())
    try:
        with open(temp, "w") as handle:
            json.dump(obj, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def _nbytes(array):
    return array.size * np.dtype(array.dtype).itemsize


def _free_mb(path):
    try:
        stat = os.statvfs(path)
    except OSError:
        return float("nan")
    return stat.f_bavail * stat.f_frsize / 2.0 ** 20


def save_checkpoint(run_dir, net, trainer, state, keep=3):
    """Write a checkpoint atomically and prune old ones.

    Parameters
    ----------
    run_dir : str
        The run directory; checkpoints go to ``run_dir/checkpoints``.
    net : gluon.Block
        Saved with ``save_parameters``.
    trainer : gluon.Trainer
        Its optimizer state is saved (:func:`optimizer_state`).
    state : dict
        JSON-serialisable; must hold ``epoch`` and ``step``; ``val_error`` ranks the best.
    keep : int
        Number of latest checkpoints kept besides the best.

    Returns
    -------
    str
        The checkpoint directory.

    Raises
    ------
    CheckpointError
        It cannot be written (a full disk...): the message names the directory, the space it
        needs and the space free; nothing of it is left and the previous checkpoints stay.
    """
    root = os.path.join(run_dir, _SUBDIR)
    name = "epoch-%04d-step-%08d" % (state["epoch"], state["step"])
    final = os.path.join(root, name)
    temp = os.path.join(root, _TEMP_PREFIX + name + "-%d" % os.getpid())
    arrays, description = optimizer_state(trainer)
    try:
        os.makedirs(root, exist_ok=True)
        shutil.rmtree(temp, ignore_errors=True)
        os.makedirs(temp)
        net.save_parameters(os.path.join(temp, PARAMS))
        mx.nd.save(os.path.join(temp, OPTIMIZER), arrays)
        for written in (PARAMS, OPTIMIZER):
            _fsync(os.path.join(temp, written))
        _write_json(os.path.join(temp, STATE), dict(state, optimizer=description))
        _fsync(temp)
    except (OSError, mx.base.MXNetError) as error:
        shutil.rmtree(temp, ignore_errors=True)
        needed = sum(_nbytes(array) for array in
                     [param.data() for param in net.collect_params().values()]
                     + list(arrays.values()))
        raise CheckpointError(
            "cannot write checkpoint %s (%s): it needs about %.0f MB, %.0f MB are free there; "
            "the previous checkpoints stay" % (final, getattr(error, "strerror", None)
                                               or first_line(error), needed / 2.0 ** 20,
                                               _free_mb(run_dir))) from error
    if os.path.exists(final):                    # the same step saved again (e.g. on a signal)
        stale = os.path.join(root, _TEMP_PREFIX + name + "-old-%d" % os.getpid())
        os.rename(final, stale)
        os.rename(temp, final)
        shutil.rmtree(stale)
    else:
        os.rename(temp, final)
    _fsync(root)
    _prune(run_dir, keep)
    return final


def record_validation(checkpoint_dir, val_error, history, keep=3):
    """Mark a checkpoint saved before its epoch was validated with the validation error and the
    epoch's record (``state.json`` rewritten atomically), then prune by the new ranking."""
    state = read_state(checkpoint_dir)
    state.pop("pending", None)
    state.update(val_error=val_error, history=history)
    _write_json(os.path.join(checkpoint_dir, STATE), state)
    _prune(os.path.dirname(os.path.dirname(checkpoint_dir)), keep)


def remove_partials(run_dir):
    """Remove what checkpoint writers that were killed left in a run (``.partial-*``)."""
    root = os.path.join(run_dir, _SUBDIR)
    if os.path.isdir(root):
        for name in os.listdir(root):
            if name.startswith(_TEMP_PREFIX):
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)


#: Fields of ``state.json`` and their types: what a checkpoint of a gluon-caps run must hold.
_STATE_FIELDS = {"config": dict, "epoch": int, "step": int}
_RESUME_FIELDS = {"epoch_step": int, "history": list, "optimizer": dict}


def _check_fields(state, fields, path):
    for field, kind in fields.items():
        value = state.get(field)
        if not isinstance(value, kind) or isinstance(value, bool) \
                or (kind is int and value < 0):
            raise CheckpointError("checkpoint state %s: %s must be %s, got %r"
                                  % (path, field, "a non-negative integer" if kind is int
                                     else "a JSON " + kind.__name__.replace("dict", "object")
                                     .replace("list", "array"), value))


def read_state(checkpoint_dir):
    """The ``state.json`` of a checkpoint directory, as a dict, its fields checked."""
    path = os.path.join(checkpoint_dir, STATE)
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except OSError as error:
        raise CheckpointError("cannot read checkpoint state %s: %s"
                              % (path, error.strerror)) from error
    except ValueError as error:
        raise CheckpointError("checkpoint state %s is not valid JSON" % path) from error
    if not isinstance(state, dict) or "config" not in state or "step" not in state:
        raise CheckpointError("checkpoint state %s lacks the config and step of a gluon-caps run"
                              % path)
    _check_fields(state, _STATE_FIELDS, path)
    return state


def _is_complete(path):
    return (os.path.isfile(os.path.join(path, PARAMS)) and os.path.isfile(os.path.join(path, STATE))
            and any(os.path.isfile(os.path.join(path, name))
                    for name in (OPTIMIZER, PICKLED_STATES)))


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
        try:
            error = read_state(path).get("val_error")
        except CheckpointError:                      # unreadable: never the best
            error = None
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
                              "%s, %s and %s)" % (path, _SUBDIR, PARAMS, OPTIMIZER, STATE))
    return found


def check_finite(arrays, path):
    """Raise :class:`CheckpointError` naming ``path`` and the first array of ``arrays`` (name ->
    NDArray or NumPy array) that holds NaN or an infinity."""
    for name, array in arrays.items():
        if not np.isfinite(array.asnumpy() if hasattr(array, "asnumpy") else array).all():
            raise CheckpointError("%s holds NaN or infinite values (in %s): it is damaged"
                                  % (path, name))


def _load_arrays(data, path):
    """The dict of NDArrays ``mx.nd.save`` wrote into the bytes ``data`` read from ``path``,
    checked finite."""
    try:
        arrays = mx.nd.load_frombuffer(data)
    except (mx.base.MXNetError, ValueError) as error:
        raise CheckpointError("%s is not a readable MXNet parameter file (%s)"
                              % (path, first_line(error))) from error
    if not isinstance(arrays, dict) or (not arrays and data):
        raise CheckpointError("%s does not hold named MXNet arrays" % path)
    check_finite(arrays, path)
    return arrays


def load_parameters(net, path, ctx):
    """Load ``path`` (``save_parameters`` format) into ``net`` after checking that it holds the
    network's parameters, every one finite.

    Raises
    ------
    CheckpointError
        The file is unreadable, damaged, non-finite, or of another network; the message names it.
    """
    try:
        with open(path, "rb") as handle:
            _load_arrays(handle.read(), path)
        net.load_parameters(path, ctx=ctx)
    except OSError as error:
        raise CheckpointError("cannot read %s: %s" % (path, error.strerror)) from error
    except (mx.base.MXNetError, AssertionError, ValueError) as error:
        raise CheckpointError(
            "%s does not hold the parameters of %s with input %s and %d classes (%s)"
            % (path, getattr(net, "model_name", type(net).__name__),
               format_shape(getattr(net, "input_shape", ())),
               getattr(net, "num_classes", 0), first_line(error))) from error


class ResumePoint(collections.namedtuple("ResumePoint", "path state params optimizer")):
    """The checkpoint a run resumes from, as bytes every worker received.

    Attributes
    ----------
    path : str
        The checkpoint directory.
    state : dict
        Its ``state.json``.
    params, optimizer : bytes
        Its ``model.params`` and ``optimizer.params``.
    """

    def restore(self, net, trainer, ctx):
        """Give an initialized network and its trainer the checkpoint's parameters and
        optimizer state."""
        with tempfile.NamedTemporaryFile(suffix=".params") as handle:
            handle.write(self.params)
            handle.flush()
            load_parameters(net, handle.name, ctx)
        arrays = mx.nd.load_frombuffer(self.optimizer) if self.optimizer else {}
        try:
            load_optimizer_state(trainer, arrays, self.state["optimizer"])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise CheckpointError("%s: the optimizer state does not fit %s (%s)"
                                  % (self.path, OPTIMIZER, first_line(error))) from error


def _read_intact(path):
    """A :class:`ResumePoint` of checkpoint ``path`` after every check resuming needs."""
    state = read_state(path)
    _check_fields(state, _RESUME_FIELDS, os.path.join(path, STATE))
    if not os.path.isfile(os.path.join(path, OPTIMIZER)):
        raise CheckpointError(
            "%s has a pickled %s (gluon-caps before 0.2), which is never loaded: its optimizer "
            "state cannot be resumed; start a new run (evaluate, export and predict still read "
            "its %s)" % (path, PICKLED_STATES, PARAMS))
    payload = {}
    for name in (PARAMS, OPTIMIZER):
        file = os.path.join(path, name)
        try:
            with open(file, "rb") as handle:
                payload[name] = handle.read()
        except OSError as error:
            raise CheckpointError("cannot read %s: %s" % (file, error.strerror)) from error
        if not payload[name] and (name == PARAMS or state["optimizer"].get("layout")):
            raise CheckpointError("%s is empty" % file)
        if payload[name]:
            _load_arrays(payload[name], file)
    return ResumePoint(path, state, payload[PARAMS], payload[OPTIMIZER])


def read_resume_point(comm, run_dir):
    """Rank 0 finds the newest intact checkpoint of ``run_dir`` (readable, complete, finite),
    says which newer ones it skipped and why, and sends it to every worker.

    Raises
    ------
    CheckpointError
        No checkpoint of the run is intact; the message names the run and the newest problem.
    """
    found = None
    if comm.rank == 0:
        try:
            candidates = list_checkpoints(run_dir) if os.path.isdir(run_dir) else []
            if not candidates:
                find_checkpoint(run_dir, prefer="latest")       # raises, naming the problem
            problems = []
            for path in reversed(candidates):
                try:
                    found = _read_intact(path)
                    break
                except CheckpointError as error:
                    problems.append(str(error))
            for problem in problems[:len(problems) - (found is None)]:
                print("resume: skipped a damaged checkpoint: %s" % problem, flush=True,
                      file=sys.stderr)
            if found is None:
                raise CheckpointError("no intact checkpoint: %s" % problems[0])
        except CheckpointError as error:
            found = "--resume %s: %s" % (run_dir, error)
    found = comm.broadcast_object(found)
    if isinstance(found, str):
        raise CheckpointError(found)
    return ResumePoint(*found)


Checkpoint = collections.namedtuple("Checkpoint", "net config path state")
Checkpoint.__doc__ = """A network loaded from a checkpoint.

Attributes
----------
net : CapsNet
    The network with the checkpoint's parameters (not hybridized).
config : dict
    The training configuration stored in ``state.json``.
path : str
    The checkpoint directory.
state : dict
    The whole ``state.json`` (epoch, step, validation error...).
"""


def load_checkpoint(path, ctx=None, prefer="best", grad_req="write", **model_kwargs):
    """Build the network a checkpoint's configuration describes and load its parameters.

    Only ``model.params`` and ``state.json`` are read (never an optimizer file).

    Parameters
    ----------
    path : str
        A run directory (its best checkpoint, see ``prefer``), a checkpoint directory or a file in
        one.
    ctx : mxnet.Context, optional
        Where the parameters go; default the CPU.
    prefer : {'best', 'latest'}
        Which checkpoint of a run directory.
    grad_req : {'write', 'add', 'null'}
        The parameters' ``grad_req``, set before they are loaded: ``'null'`` for a network that
        is only run forward, which then holds no gradient arrays (as much memory again as the
        parameters).
    **model_kwargs
        More network options, e.g. ``return_coupling=True``.

    Returns
    -------
    Checkpoint

    Raises
    ------
    CheckpointError
        The path holds no complete checkpoint, its state is unreadable, or its parameters are
        damaged, not finite, or do not fit the model its configuration names; the message names
        the file.
    """
    from .model_zoo import build_model
    directory = find_checkpoint(path, prefer=prefer)
    state = read_state(directory)
    try:
        net = build_model(state["config"], **model_kwargs)
    except (ConfigError, KeyError, TypeError) as error:
        raise CheckpointError("%s does not describe a model gluon-caps can build (%s)"
                              % (os.path.join(directory, STATE), first_line(error))) from error
    net.collect_params().setattr("grad_req", grad_req)
    load_parameters(net, os.path.join(directory, PARAMS), ctx or mx.cpu())
    return Checkpoint(net, state["config"], directory, state)
