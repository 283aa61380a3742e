"""Training support: configuration, experiments' data, checkpoints, communication, evaluation."""
from .checkpoint import best_checkpoint, find_checkpoint, latest_checkpoint, save_checkpoint
from .config import FIELDS, add_config_arguments, default_config, resolve_config
from .distributed import init_distributed, select_context
from .evaluation import eval_loader, evaluate, predict
from .experiments import (build_datasets, build_model, count_errors, predictions,
                          prepare_batch)

__all__ = ["FIELDS", "add_config_arguments", "default_config", "resolve_config", "build_model",
           "build_datasets", "prepare_batch", "predictions", "count_errors", "eval_loader",
           "evaluate", "predict", "init_distributed", "select_context", "save_checkpoint",
           "find_checkpoint", "latest_checkpoint", "best_checkpoint"]
