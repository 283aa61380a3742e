"""The command line of ``launch/train.py``: arguments, configuration, and exit codes.

``horovodrun -np 4 python launch/train.py --config launch/configs/mnist.yaml`` runs :func:`main`
in every worker; the training itself is :func:`~gluon_caps.training.fit`.
"""
import argparse
import sys

from ..errors import GluonCapsError, first_line
from .config import add_config_arguments, resolve_config
from .distributed import init_distributed, is_lost_worker, leave_process
from .loop import TrainingStopped, fit, run_trials

__all__ = ["parse_args", "main", "parse_seeds"]

PROG = "launch/train.py"
DESCRIPTION = ("Train a CapsNet with Horovod data parallelism (Gloo on CPUs, NCCL on GPUs), or "
               "in one process. Every config field can be given as a flag (--batch-size is per "
               "worker); rank 0 alone logs and writes the checkpoints.")


def parse_args(argv=None):
    """Parse the command line: ``--config``, ``--resume``, ``--seeds`` and one flag per field."""
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--config", metavar="YAML", help="config file (launch/configs/*.yaml)")
    parser.add_argument("--resume", metavar="DIR",
                        help="continue the run in DIR from its newest intact checkpoint")
    parser.add_argument("--seeds", metavar="S,S,...",
                        help="run once per seed into OUTPUT/seed-S and report mean and std of "
                             "the test error (the paper's 3-trial protocol: 0,1,2)")
    add_config_arguments(parser)
    return parser.parse_args(argv)


def parse_seeds(text):
    """The seeds of ``--seeds``: comma-separated non-negative integers."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise GluonCapsError("--seeds must be comma-separated non-negative integers, got %r"
                             % text)
    return seeds


def _train(args):
    from ..checkpoint import read_resume_point
    overrides = {name: value for name, value in vars(args).items()
                 if name not in ("config", "resume", "seeds")}
    if args.seeds and args.resume:
        raise GluonCapsError("--seeds and --resume cannot be combined")
    seeds = parse_seeds(args.seeds) if args.seeds else None
    if args.resume:                       # the configuration is the checkpoint's, resolved once
        comm = init_distributed()
        resumed = read_resume_point(comm, args.resume)
        return fit(resolve_config(args.config, overrides, resumed.state["config"], args.resume),
                   resumed, comm)
    config = resolve_config(args.config, overrides)       # bad flags fail before Horovod starts
    comm = init_distributed()
    if seeds:
        return run_trials(config, seeds, comm)
    return fit(config, comm=comm)


def main(argv=None):
    """Run what the command line asks for; return the exit code: 0 done, 1 training could not
    go on (the checkpoints written stay), 2 bad input. A run stopped cleanly by a signal ends
    the process with 0 at once (:func:`~gluon_caps.training.distributed.leave_process`): under
    ``horovodrun`` its exit hooks could outlast the time the worker has left."""
    args = parse_args(argv)
    try:
        result = _train(args)
    except GluonCapsError as error:
        print("%s: error: %s" % (PROG, error), file=sys.stderr)
        return 2
    except TrainingStopped as error:
        print("%s: stopped: %s" % (PROG, error), file=sys.stderr)
        return 1
    except Exception as error:
        if not is_lost_worker(error):
            raise
        print("%s: stopped: another worker was lost (%s); the checkpoints written so far stay "
              "intact: continue with --resume" % (PROG, first_line(error)), file=sys.stderr)
        leave_process(1)    # MXNet's exit hook would wait on the failed collective
    if result.get("stopped"):
        leave_process(0)
    return 0
