"""Training: configuration, the experiments' data, communication, the loop and evaluation.

>>> from gluon_caps.training import resolve_config, fit
>>> fit(resolve_config("launch/configs/mnist.yaml", {"epochs": 1}))
"""
from ..checkpoint import read_resume_point
from .config import FIELDS, add_config_arguments, default_config, resolve_config
from .distributed import init_distributed, select_context
from .evaluation import eval_loader, evaluate, predict
from .experiments import build_datasets, count_errors, predictions, prepare_batch
from .loop import TrainingStopped, build_run, fit, run_trials, test, train_epoch, validate

__all__ = ["FIELDS", "add_config_arguments", "default_config", "resolve_config",
           "build_datasets", "prepare_batch", "predictions", "count_errors", "eval_loader",
           "evaluate", "predict", "init_distributed", "select_context", "read_resume_point",
           "TrainingStopped", "build_run", "fit", "train_epoch", "validate", "test",
           "run_trials"]
