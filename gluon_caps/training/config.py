"""Training configuration: one table of fields drives the YAML keys, the command-line flags and
the validation, so every config value can be overridden by a flag of the same name."""
import argparse
import collections
import os

import yaml

from ..errors import ConfigError

__all__ = ["FIELDS", "DATASETS", "add_config_arguments", "resolve_config", "default_config"]

# The datasets the launcher trains on, with how their samples are shaped.
DATASETS = ("mnist", "mnist-t10k", "multimnist", "smallnorb", "affnist")

Field = collections.namedtuple("Field", "name type default help choices minimum")


def _field(name, type_, default, help_, choices=None, minimum=None):
    return Field(name, type_, default, help_, choices, minimum)


FIELDS = [
    _field("model", str, "capsnet_mnist", "registered model name (gluon-caps models)"),
    _field("dataset", str, "mnist", "data set", choices=DATASETS),
    _field("data_root", str, None, "data directory (default $GLUON_CAPS_DATA, ~/.mxnet/datasets)"),
    _field("download", bool, False, "download missing MNIST files (with md5 check) when online"),
    _field("input_shape", list, None, "model input (channels, height, width); default the model's"),
    _field("batch_size", int, 128, "batch size per worker", minimum=1),
    _field("epochs", int, 50, "number of epochs", minimum=1),
    _field("max_steps", int, None, "stop after this many optimizer steps in all", minimum=1),
    _field("lr", float, 0.001, "Adam learning rate (before --lr-scaling)", minimum=0.0),
    _field("lr_decay", float, 0.96, "exponential decay factor of the learning rate", minimum=0.0),
    _field("lr_decay_steps", int, 2000, "steps between two learning-rate decays", minimum=1),
    _field("lr_scaling", str, "none", "scale lr with the number of workers: none, linear (x N) or "
           "sqrt (x sqrt N)", choices=("none", "linear", "sqrt")),
    _field("num_routing", int, 3, "routing iterations", minimum=1),
    _field("reconstruction_weight", float, 0.0005, "weight of the reconstruction loss (0: none)",
           minimum=0.0),
    _field("augment", bool, True, "data augmentation (shift for MNIST, crops for smallNORB...)"),
    _field("seed", int, 0, "random seed (initialisation, data order, augmentation)", minimum=0),
    _field("val_size", int, 5000, "training images held out for validation", minimum=0),
    _field("pairs_per_image", int, 1000, "MultiMNIST: pairs generated per training image",
           minimum=1),
    _field("eval_pairs_per_image", int, 10, "MultiMNIST: pairs per validation/test image",
           minimum=1),
    _field("num_workers", int, 2, "DataLoader worker processes per rank (0: load in-process)",
           minimum=0),
    _field("ctx", str, "auto", "device: auto (GPU local_rank if present), cpu or gpu",
           choices=("auto", "cpu", "gpu")),
    _field("output", str, "runs/mnist", "run directory (checkpoints, log.jsonl)"),
    _field("keep_checkpoints", int, 3, "number of latest checkpoints kept (plus the best)",
           minimum=1),
    _field("hybridize", bool, True, "hybridize the network (static_alloc, static_shape)"),
]
_BY_NAME = {field.name: field for field in FIELDS}


def default_config():
    """The defaults of every field, as a dict."""
    return {field.name: field.default for field in FIELDS}


def add_config_arguments(parser):
    """Add one flag per config field to an ``argparse`` parser; flags not given are None."""
    for field in FIELDS:
        flag = "--" + field.name.replace("_", "-")
        if field.type is bool:
            parser.add_argument(flag, dest=field.name, action="store_true", default=None,
                                help=field.help)
            parser.add_argument("--no-" + field.name.replace("_", "-"), dest=field.name,
                                action="store_false", help=argparse.SUPPRESS)
        elif field.type is list:
            parser.add_argument(flag, dest=field.name, type=int, nargs="+", default=None,
                                metavar="N", help=field.help)
        else:
            parser.add_argument(flag, dest=field.name, type=field.type, default=None,
                                metavar=field.name.upper(), help=field.help)


def _load_yaml(path):
    try:
        with open(path) as handle:
            loaded = yaml.safe_load(handle)
    except OSError as error:
        raise ConfigError("cannot read config file %s: %s" % (path, error.strerror)) from error
    except yaml.YAMLError as error:
        raise ConfigError("config file %s is not valid YAML: %s" % (path, error)) from error
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError("config file %s must hold a mapping of field: value" % path)
    unknown = sorted(set(loaded) - set(_BY_NAME))
    if unknown:
        raise ConfigError("config file %s: unknown field(s) %s; valid fields: %s"
                          % (path, ", ".join(unknown), ", ".join(sorted(_BY_NAME))))
    return loaded


def _check(field, value, where):
    if value is None:
        if field.default is None:
            return None
        raise ConfigError("%s: %s must be set" % (where, field.name))
    name = "%s (%s)" % (field.name, where)
    if field.type is bool and not isinstance(value, bool):
        raise ConfigError("%s must be true or false, got %r" % (name, value))
    if field.type is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError("%s must be an integer, got %r" % (name, value))
    if field.type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError("%s must be a number, got %r" % (name, value))
        value = float(value)
    if field.type is str and not isinstance(value, str):
        raise ConfigError("%s must be a string, got %r" % (name, value))
    if field.type is list:
        if (not isinstance(value, (list, tuple)) or len(value) != 3
                or not all(isinstance(v, int) and v > 0 for v in value)):
            raise ConfigError("%s must be three positive integers, got %r" % (name, value))
        value = list(value)
    if field.choices and value not in field.choices:
        raise ConfigError("%s must be one of %s, got %r" % (name, ", ".join(field.choices), value))
    if field.minimum is not None and value < field.minimum:
        raise ConfigError("%s must be >= %s, got %r" % (name, field.minimum, value))
    return value


def resolve_config(config_path=None, overrides=None, base=None):
    """Merge defaults < ``base`` < YAML file < overrides and validate every value.

    Parameters
    ----------
    base : dict, optional
        A configuration to start from, e.g. the one stored in a checkpoint being resumed.
    config_path : str, optional
        A YAML file of ``field: value`` lines.
    overrides : dict, optional
        Field values from flags; ``None`` values are ignored.

    Returns
    -------
    dict
        The validated configuration.

    Raises
    ------
    ConfigError
        Naming the file or flag and the field for an unknown field or a bad value.
    """
    from ..model_zoo import get_model_list
    config = default_config()
    sources = {name: "default" for name in config}
    for name, value in (base or {}).items():
        if name in config:
            config[name], sources[name] = value, "checkpoint"
    if config_path:
        for name, value in _load_yaml(config_path).items():
            config[name], sources[name] = value, os.path.basename(config_path)
    for name, value in (overrides or {}).items():
        if value is not None:
            if name not in _BY_NAME:
                raise ConfigError("unknown config field %r" % name)
            config[name], sources[name] = value, "--" + name.replace("_", "-")
    for field in FIELDS:
        config[field.name] = _check(field, config[field.name], sources[field.name])
    if config["data_root"]:     # absolute, so a checkpoint's data is found from any directory
        config["data_root"] = os.path.abspath(os.path.expanduser(config["data_root"]))
    if config["model"] not in get_model_list():
        raise ConfigError("model (%s): unknown model %r; valid models: %s"
                          % (sources["model"], config["model"], ", ".join(get_model_list())))
    return config
