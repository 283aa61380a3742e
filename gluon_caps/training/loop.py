"""The training loop: :func:`fit` -> :func:`train_epoch` -> :func:`validate`, as in timm's train.py.

One code path serves one process, Horovod on CPUs (Gloo) and Horovod on GPUs (NCCL): every
collective goes through the ``comm`` of :mod:`~gluon_caps.training.distributed`. Rank 0 alone
writes the run directory (``config.json``, ``log.jsonl``, checkpoints). A stop (SIGTERM, SIGINT)
is saved at once: rank 0 writes the checkpoint of the last step applied from a thread of its own
as soon as the signal arrives, while the main thread may still be inside the next step (which is
then not applied); the workers agree on the stop after that step and leave. ``horovodrun`` kills
its workers 5 s after forwarding a signal, and a step of the paper's batch takes longer than that
on a CPU: so a worker still busy :data:`STOP_DEADLINE_S` after the signal exits on its own, its
checkpoint safe. ``--resume`` continues at the next batch, exactly.
"""
import functools
import json
import math
import os
import sys
import threading
import time

import mxnet as mx
import numpy as np
from mxnet import autograd
from tqdm import tqdm

from ..data import EpochBatches, ShardSampler, build_splits, prepare_batch
from ..errors import CheckpointError, ConfigError, format_shape
from ..loss import CapsuleLoss
from ..model_zoo import build_model
from ..model_zoo.pretrained import pretrained_file, pretrained_info
from ..precision import TrainingPrecision, compute_dtype, set_compute_dtype
from ..checkpoint import (best_checkpoint, load_checkpoint, load_parameters, record_validation,
                          remove_partials, save_checkpoint)
from ..scoring import count_errors, eval_loader, evaluate
from .distributed import (StopRequest, init_distributed, is_lost_worker, leave_process,
                          select_context)

__all__ = ["TrainingStopped", "Run", "build_run", "fit", "train_epoch", "validate", "test",
           "run_trials", "learning_rate_schedule", "initial_params_file", "STOP_DEADLINE_S"]

#: Seconds from a stop signal after which a worker whose main thread has not ended the run
#: exits by itself (0, or 1 when its checkpoint could not be written): ``horovodrun`` kills its
#: workers 5 s after forwarding a signal (Horovod's ``GRACEFUL_TERMINATION_TIME_S``).
STOP_DEADLINE_S = 3.0


class TrainingStopped(Exception):
    """Training cannot go on (non-finite loss, a checkpoint that cannot be written); the message
    says why and what was kept."""


def _say(comm, message):
    if comm.rank == 0:
        print(message, file=sys.stderr, flush=True)


def _log(run, record):
    if run.comm.rank == 0:
        with open(os.path.join(run.output, "log.jsonl"), "a") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")


class Run(object):
    """What one training run holds: its configuration, workers, network, trainer, data and state.

    Attributes
    ----------
    config : dict
        The resolved configuration.
    comm : SingleProcess or HorovodProcess
        The workers.
    ctx : mxnet.Context
        This worker's device.
    net : CapsNet
        Initialized (and hybridized with ``hybridize``), rank 0's parameters on every worker.
    trainer : mxnet.gluon.Trainer
        Adam with the configuration's learning-rate schedule.
    precision : TrainingPrecision
        What the network computes in (the configuration's ``dtype`` on this device) and how a
        step back-propagates (:class:`~gluon_caps.precision.TrainingPrecision`).
    loss : CapsuleLoss
    batches : EpochBatches
        This worker's batches of the training set.
    loader, val_loader : mxnet.gluon.data.DataLoader
        Training batches; this worker's part of the validation set (``None`` without one).
    test_set : mxnet.gluon.data.Dataset
    state : dict
        ``epoch`` (completed epochs), ``epoch_step`` (batches done in the current epoch),
        ``step`` (optimizer steps), ``epoch_totals`` (loss sum, errors and images of the current
        epoch so far, over all workers), ``history`` (the epoch records), ``train_time``.
    lock : threading.Lock
        Held while a step is applied to the network, the trainer and the state, and while they
        are saved: a checkpoint is always of one applied step.
    saved : dict
        ``step`` and ``path`` of the newest checkpoint of this run (rank 0).
    started_from : str or None
        The parameters file a new run started from (``initial_params``); ``None`` for a random
        initialisation or a resumed run.
    """

    def __init__(self, **fields):
        self.lock = threading.Lock()
        self.__dict__.update(fields)

    @property
    def output(self):
        return self.config["output"]

    def done(self):
        """Whether the configured epochs or ``max_steps`` are reached."""
        max_steps = self.config["max_steps"]
        return (self.state["epoch"] >= self.config["epochs"]
                or bool(max_steps and self.state["step"] >= max_steps))


def learning_rate_schedule(config, workers, steps_per_epoch):
    """The learning rate of every optimizer step: ``lr`` scaled by ``lr_scaling`` for the number
    of workers, reached linearly from 0 over ``warmup_epochs``, and multiplied by ``lr_decay``
    every ``lr_decay_steps`` steps (counted from the first step, as in the authors' code).

    Parameters
    ----------
    config : dict
        A resolved configuration.
    workers : int
        The number of workers (their combined batch is ``workers * batch_size``).
    steps_per_epoch : int
        Optimizer steps per epoch.

    Returns
    -------
    mxnet.lr_scheduler.FactorScheduler
        Stateless in the step number, so a resumed run continues the same schedule.
    """
    factor = {"none": 1.0, "linear": workers, "sqrt": math.sqrt(workers)}
    lr = config["lr"] * factor[config["lr_scaling"]]
    return mx.lr_scheduler.FactorScheduler(
        step=config["lr_decay_steps"], factor=config["lr_decay"], base_lr=lr,
        warmup_steps=int(round(config["warmup_epochs"] * steps_per_epoch)), warmup_begin_lr=0.0)


def initial_params_file(config):
    """The file a new run's ``initial_params`` names: the model zoo's verified weights of its
    model for ``pretrained``.

    Raises
    ------
    ConfigError
        ``pretrained`` for a model without pretrained weights, or for a run on their data set
        that would validate on images they were trained on (another ``seed`` or ``val_size``
        holds out other images).
    CheckpointError
        The shipped weights are missing or damaged.
    """
    if config["initial_params"] != "pretrained":
        return config["initial_params"]
    try:
        made_with = pretrained_info(config["model"])["config"]
        path = pretrained_file(config["model"])
    except ConfigError as error:
        raise ConfigError("--initial-params pretrained: %s" % error) from error
    if (config["val_size"] and config["dataset"] == made_with.get("dataset")
            and any(config[name] != made_with.get(name) for name in ("seed", "val_size"))):
        raise ConfigError(
            "--initial-params pretrained: the weights of %s were trained on %s less the %s "
            "images held out with seed %s; seed %s and val_size %s hold out others, some of "
            "which they were trained on, so validation would flatter them: keep --seed %s "
            "--val-size %s" % (config["model"], made_with.get("dataset"),
                               made_with.get("val_size"), made_with.get("seed"),
                               config["seed"], config["val_size"], made_with.get("seed"),
                               made_with.get("val_size")))
    return path


def _check_data_fits_model(config, net, train_set):
    shape = tuple(train_set[0][0].shape)
    if shape != net.input_shape:
        raise ConfigError("dataset %s gives %s images but model %s takes %s (set --input-shape "
                          "or choose another --model)"
                          % (config["dataset"], format_shape(shape), config["model"],
                             format_shape(net.input_shape)))


def build_run(config, comm, ctx, resumed=None):
    """Build a run from its configuration, continuing ``resumed`` if given.

    Parameters
    ----------
    config : dict
        Resolved (over the checkpoint's configuration when resuming).
    comm, ctx
        The workers and this worker's device.
    resumed : ResumePoint, optional
        From :func:`~gluon_caps.checkpoint.read_resume_point`.
    """
    compute_dtype(config["dtype"], ctx)         # refused before any data is read
    train_set, val_set, test_set = build_splits(config)
    net = build_model(config)
    _check_data_fits_model(config, net, train_set)
    seed, batch_size = config["seed"], config["batch_size"]
    mx.random.seed(seed)
    np.random.seed(seed)
    net.initialize(ctx=ctx)
    if config["hybridize"]:
        net.hybridize(static_alloc=True, static_shape=True)
    compute = set_compute_dtype(net, config["dtype"], ctx)
    # Builds the graph (loading the fused operators if it uses them). In training mode: an
    # inference-mode pass on CPU leaves the convolution weights in oneDNN layouts, which
    # Horovod's broadcast_parameters below cannot read ("can't generate TBlob for MKLDNN data").
    with autograd.train_mode():
        net(mx.nd.zeros((1,) + net.input_shape, ctx=ctx))
    sampler = ShardSampler(len(train_set), comm.size, comm.rank, shuffle=True, seed=seed)
    batches = EpochBatches(sampler, batch_size)
    if len(batches) == 0:
        raise ConfigError("--batch-size %d is larger than a worker's %d training images"
                          % (batch_size, len(sampler)))
    scheduler = learning_rate_schedule(config, comm.size, len(batches))
    trainer = comm.make_trainer(net.collect_params(), "adam",
                                {"learning_rate": scheduler.base_lr, "lr_scheduler": scheduler})
    precision = TrainingPrecision(trainer, compute)
    state = {"epoch": 0, "epoch_step": 0, "step": 0, "epoch_totals": [0.0, 0.0, 0.0],
             "history": [], "train_time": 0.0}
    saved = {"step": None, "path": None}
    started_from = None
    if resumed is not None:
        resumed.restore(net, trainer, ctx)
        state.update(resumed.state)
        saved = {"step": state["step"], "path": resumed.path}
    elif config["initial_params"]:
        started_from = initial_params_file(config)
        load_parameters(net, started_from, ctx)
    comm.broadcast_parameters(net.collect_params())
    workers = {"num_workers": config["num_workers"], "rank": comm.rank, "size": comm.size}
    return Run(config=config, comm=comm, ctx=ctx, net=net, trainer=trainer, precision=precision,
               loss=CapsuleLoss(reconstruction_weight=config["reconstruction_weight"]),
               batches=batches,
               loader=mx.gluon.data.DataLoader(train_set, batch_sampler=batches,
                                               num_workers=config["num_workers"]),
               val_loader=eval_loader(val_set, batch_size, **workers)
               if val_set is not None else None,
               test_set=test_set, state=state, saved=saved, started_from=started_from)


def _all_finite(loss_sum, params, precision):
    """Whether the loss and every gradient are finite (one fused check of the gradients). With
    loss scaling, non-finite gradients are an overflow that the trainer skips: only the loss
    counts."""
    if not math.isfinite(loss_sum):
        return False
    if precision.scales_loss:
        return True
    grads = [param.grad() for param in params if param.grad_req != "null"]
    return bool(mx.nd.multi_all_finite(*grads, num_arrays=len(grads),
                                       init_output=True).asscalar())


def _step(run, batch):
    """Forward, backward and loss of one batch; returns (loss sum, errors, images)."""
    x, target, mask, recon_target, labels = prepare_batch(batch, run.net.num_classes, run.ctx)
    with autograd.record():
        outputs = run.net(x, mask)                  # (lengths, [reconstruction])
        lengths, recon = outputs[0], outputs[1] if run.net.decoder is not None else None
        loss = run.loss(lengths, target, recon, recon_target)
    run.precision.backward(loss)
    loss_sum = float(loss.sum().asscalar())
    return loss_sum, count_errors(lengths, labels), len(labels)


def _non_finite(run, epoch):
    where = best_checkpoint(run.output) if run.comm.rank == 0 else None
    return TrainingStopped(
        "the loss or a gradient of step %d (epoch %d) is not finite; that step was not applied, "
        "so the parameters are those after step %d%s; start a new run (a lower --lr, or check "
        "the data) or --resume from an earlier checkpoint"
        % (run.state["step"] + 1, epoch + 1, run.state["step"],
           " (checkpoints in %s)" % os.path.dirname(where) if where else ""))


def _save(run, replace=False):
    """Rank 0 saves the run at its last applied step, unless that step is saved already (or
    ``replace``: its state has changed since, e.g. its epoch was closed).

    Returns
    -------
    (path, problem)
        The checkpoint, or why it could not be written (the previous ones stay).
    """
    with run.lock:
        if run.saved["step"] == run.state["step"] and not replace:
            return run.saved["path"], None
        try:
            path = save_checkpoint(run.output, run.net, run.trainer,
                                   dict(run.state, config=run.config, val_error=None),
                                   keep=run.config["keep_checkpoints"])
        except CheckpointError as error:
            return None, str(error)
        run.saved.update(step=run.state["step"], path=path)
        return path, None


def _checkpoint(run, replace=False):
    """Rank 0 saves the run's state (see :func:`_save`); returns the checkpoint directory
    (``None`` elsewhere). A checkpoint that cannot be written stops every worker (the previous
    ones stay)."""
    saved, problem = _save(run, replace) if run.comm.rank == 0 else (None, None)
    problem = run.comm.broadcast_object(problem)
    if problem:
        raise TrainingStopped(problem)
    return saved


def _stopped(run, saved):
    """Say where a run stopped by a signal continues from; its record."""
    _say(run.comm, "stopped by a signal after step %d; checkpoint %s; continue with --resume %s"
         % (run.state["step"], saved, run.output))
    return {"stopped": True, "step": run.state["step"], "checkpoint": saved}


def _exit_stopped(run):
    """Leave the process at once after a stop signal, with the checkpoint of the last applied
    step written (rank 0): exit code 0, or 1 if it could not be written. No collective and no
    MXNet exit hook: the other workers may be gone."""
    saved, problem = _save(run) if run.comm.rank == 0 else (None, None)
    if problem:
        _say(run.comm, "stopped by a signal, but " + problem)
    else:
        _stopped(run, saved)
    leave_process(1 if problem else 0)


def _save_on_signal(run, finished):
    """What a stop signal starts at once, in a thread of its own: rank 0 saves the last applied
    step; then, unless the main thread has ended the run within :data:`STOP_DEADLINE_S` of the
    signal (it may be inside a long step, or validating), the worker leaves
    (:func:`_exit_stopped`) before ``horovodrun`` would kill it."""
    deadline = time.time() + STOP_DEADLINE_S
    if run.comm.rank == 0:
        _save(run)
    if not finished.wait(max(deadline - time.time(), 0.0)):
        _exit_stopped(run)


def train_epoch(run, stop):
    """Train the current epoch from the batch the state says; stop early on a signal (before
    applying the step it arrived in), at ``max_steps`` or at a ``checkpoint_every`` boundary the
    caller saves.

    Returns
    -------
    bool
        True when the epoch is complete, False when it stopped before its end.
    """
    comm, state, config = run.comm, run.state, run.config
    epoch = state["epoch"]
    run.batches.set_epoch(epoch, state["epoch_step"])
    params = list(run.net.collect_params().values())
    every, max_steps = config["checkpoint_every"], config["max_steps"]
    bar = tqdm(total=len(run.batches), initial=run.batches.skip, desc="epoch %d" % (epoch + 1),
               unit="batch", leave=False, disable=None if comm.rank == 0 else True)
    tick = time.time()
    try:
        for batch in run.loader:
            loss_sum, errors, images = _step(run, batch)
            # one collective per step: the stop, a non-finite value, and the epoch's totals
            summed = comm.allreduce_sum(
                [stop.requested, not _all_finite(loss_sum, params, run.precision),
                 loss_sum, errors, images])
            stop_now, bad, totals = summed[0] > 0, summed[1] > 0, summed[2:]
            if bad:
                raise _non_finite(run, epoch)
            if stop_now:        # what the workers agreed, on every one; never reset here: a
                stop.requested = True   # signal may arrive while the flags are being summed
                break
            with run.lock:
                run.trainer.step(config["batch_size"])
                state["step"] += 1
                state["epoch_step"] += 1
                state["epoch_totals"] = (np.asarray(state["epoch_totals"]) + totals).tolist()
                now = time.time()
                state["train_time"] += now - tick
                tick = now
            bar.set_postfix(loss="%.4f" % (loss_sum / images))
            bar.update(1)
            if (max_steps and state["step"] >= max_steps) \
                    or (every and state["step"] % every == 0
                        and state["epoch_step"] < len(run.batches)):
                break
    finally:
        bar.close()
    return state["epoch_step"] >= len(run.batches)


def validate(run):
    """Validation error of the run's network (``None`` without a validation set)."""
    if run.val_loader is None:
        return None
    return evaluate(run.net, run.val_loader, run.ctx, run.comm).error


def _end_epoch(run, stop, complete=True):
    """Close an epoch, complete or (at ``max_steps``) not: checkpoint first, then validate, log
    and mark the checkpoint."""
    state = run.state
    loss_sum, errors, images = state["epoch_totals"]
    record = {"epoch": state["epoch"] + 1, "step": state["step"], "complete_epoch": complete,
              "train_loss": loss_sum / max(images, 1), "train_error": errors / max(images, 1),
              "lr": run.trainer.learning_rate,
              "images_per_s": state["step"] * run.config["batch_size"] * run.comm.size
              / max(state["train_time"], 1e-9),
              "train_time": state["train_time"], "dtype": run.precision.compute}
    with run.lock:                                  # a stop saves the epoch closed, or not
        if complete:
            state.update(epoch=state["epoch"] + 1, epoch_step=0, epoch_totals=[0.0, 0.0, 0.0])
        state["pending"] = record                   # validated after the checkpoint is safe
    saved = _checkpoint(run, replace=True)
    if not stop.requested:
        _finish_validation(run, saved)
    return saved


def _finish_validation(run, saved):
    """Validate the epoch the state's ``pending`` record describes; log it and rank the
    checkpoint ``saved`` (rank 0) by its validation error."""
    state = run.state
    record = dict(state.pop("pending"), val_error=validate(run))
    state["history"].append(record)
    if run.comm.rank == 0:
        record_validation(saved, record["val_error"], state["history"],
                          keep=run.config["keep_checkpoints"])
        _log(run, record)
        _say(run.comm, "epoch %d step %d: train loss %.4f, train error %.2f%%, val error %s, "
             "%.0f images/s" % (record["epoch"], record["step"], record["train_loss"],
                                100 * record["train_error"],
                                "%.2f%%" % (100 * record["val_error"])
                                if record["val_error"] is not None else "n/a",
                                record["images_per_s"]))


def test(run):
    """Score the test set once, with the checkpoint of lowest validation error (the newest when
    there is no validation set), and log the final record."""
    comm = run.comm
    chosen = comm.broadcast_object(best_checkpoint(run.output) if comm.rank == 0 else None)
    net = run.net
    if chosen is not None:
        net = load_checkpoint(chosen, ctx=run.ctx, grad_req="null").net
        if run.config["hybridize"]:
            net.hybridize(static_alloc=True, static_shape=True)
        set_compute_dtype(net, run.config["dtype"], run.ctx)
    batch_size = run.config["batch_size"]
    score = evaluate(net, eval_loader(run.test_set, batch_size,
                                      num_workers=run.config["num_workers"], rank=comm.rank,
                                      size=comm.size), run.ctx, comm)
    state = run.state
    final = {"final": True, "test_error": score.error, "test_images": score.count,
             "checkpoint": os.path.relpath(chosen, run.output) if chosen else None,
             "step": state["step"], "epochs": state["epoch"],
             "train_time": state["train_time"],
             "images_per_s": state["step"] * batch_size * comm.size
             / max(state["train_time"], 1e-9),
             "workers": comm.size, "dataset": run.config["dataset"],
             "model": run.config["model"], "dtype": run.precision.compute}
    _log(run, final)
    if comm.rank == 0:
        print(json.dumps(final, sort_keys=True), flush=True)
    return final


def _prepare_output(config, comm, resumed):
    """Rank 0 makes the run directory (or checks the resumed one), writes ``config.json`` and
    removes what killed checkpoint writers left; every worker learns of a problem."""
    problem = None
    if comm.rank == 0:
        from .config import check_output
        try:
            check_output(config["output"], resumed is not None)
            remove_partials(config["output"])
            with open(os.path.join(config["output"], "config.json"), "w") as handle:
                json.dump(config, handle, indent=1, sort_keys=True)
        except ConfigError as error:
            problem = str(error)
        except OSError as error:
            problem = "--output %s cannot be written: %s" % (config["output"],
                                                             error.strerror or error)
    problem = comm.broadcast_object(problem)
    if problem:
        raise ConfigError(problem)


def fit(config, resumed=None, comm=None):
    """Train a run to its configured end; return the final record on every rank, or a record
    with ``stopped`` after a signal (a checkpoint from which ``--resume`` continues exactly).

    Parameters
    ----------
    config : dict
        Resolved by :func:`~gluon_caps.training.resolve_config` (over the checkpoint's
        configuration when resuming).
    resumed : ResumePoint, optional
        The checkpoint to continue (:func:`~gluon_caps.checkpoint.read_resume_point`).
    comm : SingleProcess or HorovodProcess, optional
        Default :func:`~gluon_caps.training.init_distributed`.
    """
    comm = comm or init_distributed()
    ctx = select_context(config["ctx"], comm.local_rank)
    run = build_run(config, comm, ctx, resumed)       # bad data or model: nothing written yet
    _prepare_output(config, comm, resumed)
    _say(comm, "training %s on %s with %d worker(s), batch %d per worker, on %s in %s -> %s%s"
         % (config["model"], config["dataset"], comm.size, config["batch_size"], ctx,
            run.precision.compute, config["output"],
            ", resumed at step %d" % run.state["step"] if resumed else
            ", from %s" % run.started_from if run.started_from else ""))
    finished = threading.Event()
    with StopRequest(functools.partial(_save_on_signal, run, finished)) as stop:
        try:
            if "pending" in run.state:              # stopped between a checkpoint and validation
                _finish_validation(run, resumed.path if comm.rank == 0 else None)
            while not run.done():
                complete = train_epoch(run, stop)
                if complete or (run.done() and not stop.requested):   # an epoch, or max_steps
                    saved = _end_epoch(run, stop, complete)
                else:                               # a signal, or --checkpoint-every
                    saved = _checkpoint(run)
                if stop.requested:
                    return _stopped(run, saved)
        except Exception as error:
            if stop.requested and is_lost_worker(error):    # another worker left first
                _exit_stopped(run)
            raise
        finally:
            finished.set()
    return test(run)


def run_trials(config, seeds, comm=None):
    """Train once per seed into ``<output>/seed-S``; return mean and standard deviation (ddof=1)
    of the test errors, as the paper reports them over 3 trials."""
    comm = comm or init_distributed()
    results = []
    for seed in seeds:
        trial = dict(config, seed=seed, output=os.path.join(config["output"], "seed-%d" % seed))
        result = fit(trial, comm=comm)
        if result.get("stopped"):
            return result
        results.append(result)
    errors = np.array([result["test_error"] for result in results])
    summary = {"seeds": list(seeds), "test_errors": errors.tolist(),
               "test_error_mean": float(errors.mean()),
               "test_error_std": float(errors.std(ddof=1)) if len(errors) > 1 else 0.0}
    _say(comm, "test error over %d seeds: %.2f%% +- %.2f%%" % (
        len(seeds), 100 * summary["test_error_mean"], 100 * summary["test_error_std"]))
    if comm.rank == 0:
        print(json.dumps(summary, sort_keys=True), flush=True)
    return summary
