"""Training configuration: one table of fields drives the YAML keys, the command-line flags and
the validation, so every config value can be overridden by a flag of the same name."""
import argparse
import collections
import math
import os
import tempfile

import yaml

from ..data.registry import DATASET_NAMES
from ..errors import ConfigError

__all__ = ["FIELDS", "DATASETS", "CHANGEABLE_ON_RESUME", "add_config_arguments",
           "resolve_config", "default_config", "check_output"]

#: The data sets the launcher trains on (the registry of :mod:`gluon_caps.data`).
DATASETS = DATASET_NAMES

Field = collections.namedtuple("Field", "name type default help choices minimum maximum above")


def _field(name, type_, default, help_, choices=None, minimum=None, maximum=None, above=None):
    return Field(name, type_, default, help_, choices, minimum, maximum, above)


FIELDS = [
    _field("model", str, "capsnet_mnist", "registered model name (gluon-caps models)"),
    _field("dataset", str, "mnist", "data set", choices=DATASETS),
    _field("data_root", str, None, "data directory (default $GLUON_CAPS_DATA, ~/.mxnet/datasets)"),
    _field("download", bool, False, "download missing MNIST files (with md5 check) when online"),
    _field("input_shape", list, None, "model input (channels, height, width); default the model's"),
    _field("batch_size", int, 128, "batch size per worker", minimum=1),
    _field("epochs", int, 50, "number of epochs", minimum=1),
    _field("max_steps", int, None, "stop after this many optimizer steps in all", minimum=1),
    _field("lr", float, 0.001, "Adam learning rate (before --lr-scaling)", above=0.0),
    _field("lr_decay", float, 0.96, "exponential decay factor of the learning rate", above=0.0,
           maximum=1.0),
    _field("lr_decay_steps", int, 2000, "steps between two learning-rate decays", minimum=1),
    _field("lr_scaling", str, "none", "scale lr with the number of workers: none, linear (x N) or "
           "sqrt (x sqrt N)", choices=("none", "linear", "sqrt")),
    _field("warmup_epochs", float, 0.0, "epochs over which the learning rate rises linearly from "
           "0 to lr before its decay (e.g. 1 with --lr-scaling linear)", minimum=0.0),
    _field("initial_params", str, None, "start from these parameters, with a fresh optimizer, "
           "instead of a random initialisation: a .params file of the same model "
           "(save_parameters), or 'pretrained' for the model zoo's weights of --model"),
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
    _field("checkpoint_every", int, 0, "also checkpoint every this many steps within an epoch "
           "(0: at epoch ends only)", minimum=0),
    _field("hybridize", bool, True, "hybridize the network (static_alloc, static_shape)"),
    _field("dtype", str, "float32", "compute dtype: bfloat16 runs the convolutions in bfloat16 "
           "(CPUs with AMX or AVX-512 BF16; float16 with loss scaling on GPUs), float32 "
           "weights, routing and losses", choices=("float32", "bfloat16")),
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
        with open(path, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle)
    except OSError as error:
        raise ConfigError("cannot read config file %s: %s" % (path, error.strerror)) from error
    except UnicodeDecodeError as error:
        raise ConfigError("config file %s is not UTF-8 text" % path) from error
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
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise ConfigError("%s must be a finite number, got %r" % (name, value))
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
    if field.above is not None and value <= field.above:
        raise ConfigError("%s must be > %s, got %r" % (name, field.above, value))
    if field.maximum is not None and value > field.maximum:
        raise ConfigError("%s must be <= %s, got %r" % (name, field.maximum, value))
    return value


#: Fields a resumed run may change: how long it trains, where its data is, how it is run.
#: Every other field (the network, the data, the optimizer and its schedule, the seed) continues
#: as the checkpoint has it. ``dtype`` is how it is run: the parameters and the optimizer state
#: are float32 whatever it is, so a checkpoint is the same either way, and it goes with ``ctx``
#: (bfloat16 becomes float16 on a GPU, and a CPU without bfloat16 instructions refuses it): a run
#: moved to another machine may need to change it. Each epoch's log record says which it used.
CHANGEABLE_ON_RESUME = ("epochs", "max_steps", "data_root", "download", "num_workers", "ctx",
                        "keep_checkpoints", "checkpoint_every", "hybridize", "dtype")


def _check_resumable(saved, config, sources, resume_dir):
    """Refuse a field that differs from the resumed checkpoint's, naming where it was asked."""
    for field in FIELDS:
        name = field.name
        if name in CHANGEABLE_ON_RESUME or name == "output" or name not in saved:
            continue
        kept = _check(field, saved[name], "checkpoint")
        if config[name] != kept:
            raise ConfigError(
                "--%s cannot change on --resume (the checkpoint has %r, %s asks %r): a resumed "
                "run continues as it was; start a new run with another --output instead"
                % (name.replace("_", "-"), kept, sources[name], config[name]))


def resolve_config(config_path=None, overrides=None, resumed=None, resume_dir=None):
    """Merge defaults < a resumed checkpoint's configuration < YAML file < flags, and validate
    every value: the one place a run's configuration is decided.

    Parameters
    ----------
    config_path : str, optional
        A YAML file of ``field: value`` lines.
    overrides : dict, optional
        Field values from flags; ``None`` values are ignored.
    resumed : dict, optional
        The configuration of the checkpoint being resumed: the run continues with it, and a
        field outside :data:`CHANGEABLE_ON_RESUME` that the file or a flag changes is refused.
    resume_dir : str, optional
        The run directory being resumed: the output, which ``--output`` may only repeat.

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
    for name, value in (resumed or {}).items():
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
    if resume_dir is not None:
        asked = (overrides or {}).get("output")
        if asked is not None and os.path.abspath(asked) != os.path.abspath(resume_dir):
            raise ConfigError("--output %s differs from --resume %s: a resumed run writes into "
                              "its own directory (leave out --output)" % (asked, resume_dir))
        config["output"], sources["output"] = resume_dir, "--resume"
    for field in FIELDS:
        config[field.name] = _check(field, config[field.name], sources[field.name])
    for name in ("data_root", "initial_params"):    # absolute: found from any directory
        if config[name] and config[name] != "pretrained":
            config[name] = os.path.abspath(os.path.expanduser(config[name]))
    if config["dtype"] != "float32" and not config["hybridize"]:
        raise ConfigError("dtype %s (%s) needs a hybridized network, not --no-hybridize (%s)"
                          % (config["dtype"], sources["dtype"], sources["hybridize"]))
    if config["model"] not in get_model_list():
        raise ConfigError("model (%s): unknown model %r; valid models: %s"
                          % (sources["model"], config["model"], ", ".join(get_model_list())))
    if resumed is not None:
        _check_resumable(resumed, config, sources, resume_dir)
    return config


def check_output(output, resuming):
    """Check that a run may write into ``output`` (creating it): a directory that can be written,
    and, for a new run, one that holds no other run.

    Raises
    ------
    ConfigError
        Naming ``--output`` and the reason.
    """
    from ..checkpoint import latest_checkpoint
    if os.path.exists(output) and not os.path.isdir(output):
        raise ConfigError("--output %s exists and is not a directory" % output)
    if not resuming:
        if latest_checkpoint(output) is not None:
            raise ConfigError("--output %s already holds checkpoints: pass --resume %s to "
                              "continue that run, or choose another --output" % (output, output))
        if any(os.path.exists(os.path.join(output, name))
               for name in ("log.jsonl", "config.json")):
            raise ConfigError("--output %s holds another run's log (without checkpoints): "
                              "remove it or choose another --output" % output)
    try:
        os.makedirs(output, exist_ok=True)
        with tempfile.TemporaryFile(dir=output):
            pass
    except OSError as error:
        raise ConfigError("--output %s cannot be written: %s"
                          % (output, error.strerror or error)) from error
