"""Train a CapsNet with Horovod data parallelism (Gloo on CPUs, NCCL on GPUs), or in one process.

    horovodrun -np 4 python launch/train.py --config launch/configs/mnist.yaml
    python launch/train.py --config launch/configs/mnist.yaml --epochs 1
    horovodrun -np 2 python launch/train.py --config launch/configs/mnist.yaml --resume runs/mnist
    python launch/train.py --config launch/configs/mnist.yaml --seeds 0,1,2

Every config field can be given as a flag (``--batch-size`` is per worker). Rank 0 alone logs,
writes ``<output>/log.jsonl`` and the checkpoints; evaluation is split over the workers and
summed. Importing this module does no work: see :func:`parse_args` and :func:`main`.
"""
import argparse
import json
import math
import os
import signal
import sys
import tempfile
import time

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:                                    # run from a checkout, not installed
    sys.path.insert(0, _REPO)

__all__ = ["parse_args", "main", "train", "run_trials", "default_threads"]


class TrainingStopped(Exception):
    """Training cannot go on (non-finite loss, a worker lost); the message says why."""


def parse_args(argv=None):
    """Parse the command line: ``--config``, ``--resume``, ``--seeds`` and one flag per field."""
    from gluon_caps.training import add_config_arguments
    parser = argparse.ArgumentParser(
        prog="launch/train.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--config", metavar="YAML", help="config file (launch/configs/*.yaml)")
    parser.add_argument("--resume", metavar="DIR",
                        help="continue the run in DIR from its newest complete checkpoint")
    parser.add_argument("--seeds", metavar="S,S,...",
                        help="run once per seed into OUTPUT/seed-S and report mean and std of "
                             "the test error (the paper's 3-trial protocol: 0,1,2)")
    add_config_arguments(parser)
    return parser.parse_args(argv)


def _overrides(args):
    skip = ("config", "resume", "seeds")
    return {name: value for name, value in vars(args).items() if name not in skip}


class _StopRequest(object):
    """Turns SIGTERM/SIGINT into a flag checked after each step."""

    def __init__(self):
        self.requested = False
        self._previous = {}

    def __enter__(self):
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


class _EpochBatches(object):
    """Batches of a shard sampler's epoch (incomplete last batch dropped), from batch ``skip`` on,
    so a run resumed mid-epoch continues with the batch it would have taken next."""

    def __init__(self, sampler, batch_size):
        self.sampler, self.batch_size, self.skip = sampler, batch_size, 0

    def __iter__(self):
        indices = self.sampler.indices()
        for start in range(self.skip * self.batch_size, len(self) * self.batch_size,
                           self.batch_size):
            yield indices[start:start + self.batch_size].tolist()

    def __len__(self):
        return len(self.sampler) // self.batch_size


def _read_resume_payload(comm, resume_dir):
    """Rank 0 reads the newest complete checkpoint's files; every rank receives the bytes."""
    from gluon_caps.errors import CheckpointError
    from gluon_caps.training.checkpoint import PARAMS, STATES, find_checkpoint, read_state
    payload = None
    if comm.rank == 0:
        try:
            path = find_checkpoint(resume_dir, prefer="latest")
            payload = {"path": path, "state": read_state(path)}
            for name in (PARAMS, STATES):
                with open(os.path.join(path, name), "rb") as handle:
                    payload[name] = handle.read()
        except (CheckpointError, OSError) as error:
            payload = {"error": "--resume %s: %s" % (resume_dir, error)}
    payload = comm.broadcast_object(payload)
    if "error" in payload:
        raise CheckpointError(payload["error"])
    return payload


def _load_from_bytes(load, data):
    with tempfile.NamedTemporaryFile(suffix=".bin") as handle:
        handle.write(data)
        handle.flush()
        load(handle.name)


def _check_data_fits_model(config, net, train_set):
    from gluon_caps.errors import ConfigError
    shape = tuple(train_set[0][0].shape)
    if shape != net.input_shape:
        raise ConfigError("dataset %s gives %s images but model %s takes %s (set --input-shape "
                          "or choose another --model)"
                          % (config["dataset"], "x".join(map(str, shape)), config["model"],
                             "x".join(map(str, net.input_shape))))


def _check_output(config, resume_dir):
    from gluon_caps.errors import ConfigError
    from gluon_caps.training import latest_checkpoint
    output = config["output"]
    if os.path.exists(output) and not os.path.isdir(output):
        raise ConfigError("--output %s exists and is not a directory" % output)
    if resume_dir is None and latest_checkpoint(output) is not None:
        raise ConfigError("--output %s already holds checkpoints: pass --resume %s to continue "
                          "that run, or choose another --output" % (output, output))


def _log(path, record):
    with open(path, "a") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")


def _say(comm, message):
    if comm.rank == 0:
        print(message, file=sys.stderr, flush=True)


#: Fields a resumed run must keep: the network, and the optimizer whose state and learning-rate
#: schedule the checkpoint carries on.
FIXED_ON_RESUME = ("model", "num_routing", "reconstruction_weight", "input_shape", "lr",
                   "lr_decay", "lr_decay_steps", "lr_scaling")


def _check_resumable(saved, config):
    from gluon_caps.errors import ConfigError
    for name in FIXED_ON_RESUME:
        if name in saved and saved[name] != config[name]:
            raise ConfigError(
                "--%s cannot change on --resume (the checkpoint has %r, asked %r): the network "
                "and the optimizer state and schedule continue from the checkpoint; start a new "
                "run with another --output instead" % (name.replace("_", "-"), saved[name],
                                                       config[name]))


def train(config, resume_dir=None, overrides=None, config_path=None):
    """Train one model; return the final record (test error, wall time, images/s) on every rank.

    Parameters
    ----------
    config : dict
        A validated configuration (:func:`gluon_caps.training.resolve_config`); with
        ``resume_dir`` it is resolved again over the checkpoint's configuration.
    resume_dir : str, optional
        Continue this run from its newest complete checkpoint.
    """
    import mxnet as mx
    import numpy as np
    from mxnet import autograd
    from tqdm import tqdm

    from gluon_caps.data import ShardSampler
    from gluon_caps.loss import CapsuleLoss, MarginLoss
    from gluon_caps.training import (build_datasets, build_model, count_errors, eval_loader,
                                     evaluate, init_distributed, predictions, prepare_batch,
                                     resolve_config, save_checkpoint, select_context)
    from gluon_caps.training.checkpoint import PARAMS, STATES

    comm = init_distributed()
    ctx = select_context(config["ctx"], comm.local_rank)
    payload = _read_resume_payload(comm, resume_dir) if resume_dir else None
    if payload is not None:
        config = resolve_config(config_path, overrides,
                                base=dict(payload["state"]["config"], output=resume_dir))
        _check_resumable(payload["state"]["config"], config)
    _check_output(config, resume_dir)
    train_set, val_set, test_set = build_datasets(config)
    net = build_model(config)
    _check_data_fits_model(config, net, train_set)

    seed, batch_size = config["seed"], config["batch_size"]
    mx.random.seed(seed)
    np.random.seed(seed)
    net.initialize(ctx=ctx)
    if config["hybridize"]:
        net.hybridize(static_alloc=True, static_shape=True)
    net(mx.nd.zeros((1,) + net.input_shape, ctx=ctx))       # finish any deferred initialisation
    state = {"epoch": 0, "epoch_step": 0, "step": 0, "history": []}
    if payload is not None:
        _load_from_bytes(lambda name: net.load_parameters(name, ctx=ctx), payload[PARAMS])
        state = payload["state"]
        np.random.set_state(tuple(state["random_state"]["numpy"]))
    comm.broadcast_parameters(net.collect_params())

    lr_factor = {"none": 1.0, "linear": comm.size, "sqrt": math.sqrt(comm.size)}
    lr = config["lr"] * lr_factor[config["lr_scaling"]]
    scheduler = mx.lr_scheduler.FactorScheduler(step=config["lr_decay_steps"],
                                                factor=config["lr_decay"], base_lr=lr)
    trainer = comm.make_trainer(net.collect_params(), "adam",
                                {"learning_rate": lr, "lr_scheduler": scheduler})
    if payload is not None:
        _load_from_bytes(trainer.load_states, payload[STATES])
    if config["reconstruction_weight"] > 0:
        loss_fn = CapsuleLoss(reconstruction_weight=config["reconstruction_weight"])
    else:
        margin = MarginLoss()
        loss_fn = lambda lengths, target, recon, image: margin(lengths, target)  # noqa: E731

    sampler = ShardSampler(len(train_set), comm.size, comm.rank, shuffle=True, seed=seed)
    batches = _EpochBatches(sampler, batch_size)
    if len(batches) == 0:
        from gluon_caps.errors import ConfigError
        raise ConfigError("--batch-size %d is larger than a worker's %d training images"
                          % (batch_size, len(sampler)))
    loader = mx.gluon.data.DataLoader(train_set, batch_sampler=batches,
                                      num_workers=config["num_workers"])
    workers = {"num_workers": config["num_workers"], "rank": comm.rank, "size": comm.size}
    val_loader = eval_loader(val_set, batch_size, **workers) if val_set is not None else None
    output = config["output"]
    if comm.rank == 0:
        os.makedirs(output, exist_ok=True)
        with open(os.path.join(output, "config.json"), "w") as handle:
            json.dump(config, handle, indent=1, sort_keys=True)
        _say(comm, "training %s on %s with %d worker(s), batch %d per worker, on %s -> %s"
             % (config["model"], config["dataset"], comm.size, batch_size, ctx, output))
    log_path = os.path.join(output, "log.jsonl")

    def checkpoint(val_error=None):
        state["val_error"] = val_error
        state["config"] = config
        state["random_state"] = {"numpy": [np.random.get_state()[0]]
                                 + [v.tolist() if hasattr(v, "tolist") else v
                                    for v in np.random.get_state()[1:]],
                                 "data_order": "ShardSampler(seed=%d, epoch)" % seed}
        if comm.rank == 0:
            return save_checkpoint(output, net, trainer, state, keep=config["keep_checkpoints"])
        return None

    max_steps = config["max_steps"]
    images = 0
    train_time = 0.0
    start = time.time()
    with _StopRequest() as stop:
        while state["epoch"] < config["epochs"] and not (max_steps and state["step"] >= max_steps):
            epoch = state["epoch"]
            sampler.set_epoch(epoch)
            batches.skip = state["epoch_step"]
            totals = np.zeros(3)                                 # loss sum, errors, images
            bar = tqdm(total=len(batches), initial=batches.skip, disable=None if comm.rank == 0
                       else True, desc="epoch %d" % (epoch + 1), unit="batch", leave=False)
            tick = time.time()
            stopped = False
            for batch in loader:
                x, target, mask, recon_target, labels = prepare_batch(batch, net.num_classes,
                                                                      ctx)
                with autograd.record():
                    outputs = net(x, mask)
                    lengths, recon = (outputs if isinstance(outputs, (list, tuple))
                                      else (outputs, None))
                    loss = loss_fn(lengths, target, recon, recon_target)
                loss.backward()
                loss_sum = float(loss.sum().asscalar())
                flags = comm.allreduce_sum([stop.requested, not math.isfinite(loss_sum)])
                if flags[1]:
                    raise TrainingStopped(
                        "non-finite loss at step %d (epoch %d); the parameters were not updated "
                        "and the last good checkpoint in %s stays; --lr cannot change on "
                        "--resume, so start a new run with a lower --lr"
                        % (state["step"] + 1, epoch + 1, output))
                trainer.step(batch_size)
                state["step"] += 1
                state["epoch_step"] += 1
                totals += (loss_sum, count_errors(predictions(lengths, labels), labels.asnumpy()),
                           len(labels))
                images += len(labels) * comm.size
                bar.set_postfix(loss="%.4f" % (loss_sum / len(labels)),
                                img_s="%.0f" % (images / max(train_time + time.time() - tick,
                                                             1e-9)))
                bar.update(1)
                if flags[0] or (max_steps and state["step"] >= max_steps):
                    stopped = bool(flags[0])
                    break
            bar.close()
            train_time += time.time() - tick
            totals = comm.allreduce_sum(totals)
            finished_epoch = state["epoch_step"] >= len(batches)
            if finished_epoch:
                state["epoch"], state["epoch_step"] = epoch + 1, 0
            val = evaluate(net, val_loader, ctx, comm) if val_loader is not None else None
            record = {"epoch": epoch + 1, "step": state["step"], "complete_epoch": finished_epoch,
                      "train_loss": totals[0] / max(totals[2], 1),
                      "train_error": totals[1] / max(totals[2], 1),
                      "val_error": val["error"] if val else None,
                      "lr": trainer.learning_rate, "images_per_s": images / train_time,
                      "wall_time": time.time() - start}
            state["history"].append(record)
            saved = checkpoint(record["val_error"])
            if comm.rank == 0:
                _log(log_path, record)
                _say(comm, "epoch %d step %d: train loss %.4f, train error %.2f%%, val error %s, "
                     "%.0f images/s" % (record["epoch"], record["step"], record["train_loss"],
                                        100 * record["train_error"],
                                        "%.2f%%" % (100 * val["error"]) if val else "n/a",
                                        record["images_per_s"]))
            if stopped:
                _say(comm, "stopped by a signal after step %d; checkpoint %s; continue with "
                     "--resume %s" % (state["step"], saved, output))
                return {"stopped": True, "step": state["step"], "checkpoint": saved}
    test = evaluate(net, eval_loader(test_set, batch_size, **workers), ctx, comm)
    final = {"final": True, "test_error": test["error"], "test_images": test["count"],
             "step": state["step"], "epochs": state["epoch"], "wall_time": time.time() - start,
             "images_per_s": images / train_time if train_time else None,
             "workers": comm.size, "dataset": config["dataset"], "model": config["model"]}
    if comm.rank == 0:
        _log(log_path, final)
        print(json.dumps(final, sort_keys=True), flush=True)
    return final


def run_trials(config, seeds, config_path=None, overrides=None):
    """Train once per seed into ``<output>/seed-S``; return mean and standard deviation (ddof=1)
    of the test errors, as the paper reports them over 3 trials."""
    import numpy as np
    results = []
    for seed in seeds:
        trial = dict(config, seed=seed, output=os.path.join(config["output"], "seed-%d" % seed))
        results.append(train(trial, overrides=overrides, config_path=config_path))
    errors = np.array([result["test_error"] for result in results])
    summary = {"seeds": list(seeds), "test_errors": errors.tolist(),
               "test_error_mean": float(errors.mean()),
               "test_error_std": float(errors.std(ddof=1)) if len(errors) > 1 else 0.0}
    print("test error over %d seeds: %.2f%% +- %.2f%%" % (
        len(seeds), 100 * summary["test_error_mean"], 100 * summary["test_error_std"]),
        file=sys.stderr)
    print(json.dumps(summary, sort_keys=True), flush=True)
    return summary


def _first_line(error):
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


#: Messages of the errors a collective raises when another worker of the job is gone: MXNet
#: relays Horovod's shutdown and Gloo's transport errors from its engine.
LOST_WORKER_MESSAGES = ("Horovod has been shut down", "Connection closed by peer",
                        "Connection reset by peer", "gloo/transport")


def _is_lost_worker(error):
    """Whether an exception says the Horovod job lost a worker (Horovod's own error types, or
    MXNet's error for a collective after Horovod shut down or Gloo lost a peer)."""
    return (type(error).__module__.startswith("horovod")
            or any(message in str(error) for message in LOST_WORKER_MESSAGES))


def _parse_seeds(text):
    from gluon_caps.errors import ConfigError
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise ConfigError("--seeds must be comma-separated non-negative integers, got %r" % text)
    return seeds


def main(args):
    """Run what ``args`` asks for; return the process exit code (0 done or stopped cleanly,
    1 training could not go on, 2 bad input)."""
    from gluon_caps.errors import GluonCapsError
    try:
        from gluon_caps.training import resolve_config
        overrides = _overrides(args)
        config = resolve_config(args.config, overrides)
        if args.seeds:
            if args.resume:
                raise GluonCapsError("--seeds and --resume cannot be combined")
            run_trials(config, _parse_seeds(args.seeds), args.config, overrides)
        else:
            train(config, args.resume, overrides, args.config)
    except (GluonCapsError, ImportError) as error:
        print("launch/train.py: error: %s" % error, file=sys.stderr)
        return 2
    except TrainingStopped as error:
        print("launch/train.py: stopped: %s" % error, file=sys.stderr)
        return 1
    except Exception as error:
        if not _is_lost_worker(error):
            raise
        print("launch/train.py: stopped: another worker was lost (%s); the checkpoints written "
              "so far stay intact: continue with --resume" % _first_line(error), file=sys.stderr)
        args.lost_worker = True
        return 1
    return 0


def default_threads(environ=os.environ):
    """Give each worker an equal share of this host's cores as OpenMP threads, unless
    ``OMP_NUM_THREADS`` is set: N workers of one host would otherwise each start one thread per
    core and slow each other down. Must run before MXNet is imported."""
    workers_here = int(environ.get("HOROVOD_LOCAL_SIZE", "1") or 1)
    environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers_here)))


if __name__ == "__main__":
    default_threads()
    arguments = parse_args()
    code = main(arguments)
    if getattr(arguments, "lost_worker", False):
        # MXNet's exit hook would wait on the failed collective and print its traceback
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
