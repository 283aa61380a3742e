"""Training: configuration, communication between workers, and the loop.

>>> from gluon_caps.training import resolve_config, fit
>>> fit(resolve_config("launch/configs/mnist.yaml", {"epochs": 1}))
"""
from .config import FIELDS, add_config_arguments, default_config, resolve_config
from .distributed import init_distributed, select_context
from .loop import TrainingStopped, build_run, fit, run_trials, test, train_epoch, validate

__all__ = ["FIELDS", "add_config_arguments", "default_config", "resolve_config",
           "init_distributed", "select_context", "TrainingStopped", "build_run", "fit",
           "train_epoch", "validate", "test", "run_trials"]
