"""Load a trained network from a training checkpoint (its ``model.params`` and ``state.json``)."""
import collections
import os

from ..errors import CheckpointError, ConfigError

__all__ = ["Checkpoint", "load_checkpoint", "describe", "first_line"]

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


def first_line(error, limit=200):
    """The gist of an exception's message in one line of at most ``limit`` characters: its first
    line, or the last of an MXNet message that carries a C++ stack trace."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    line = (lines[-1] if lines[0].startswith("Traceback") else lines[0]).strip()
    return line if len(line) <= limit else line[:limit - 3] + "..."


def load_checkpoint(path, ctx=None, prefer="best", **model_kwargs):
    """Build the network a checkpoint's configuration describes and load its parameters.

    Only ``model.params`` and ``state.json`` are read (never the pickled trainer states).

    Parameters
    ----------
    path : str
        A run directory (its best checkpoint, see ``prefer``), a checkpoint directory or a file in
        one.
    ctx : mxnet.Context, optional
        Where the parameters go; default the CPU.
    prefer : {'best', 'latest'}
        Which checkpoint of a run directory.
    **model_kwargs
        More network options, e.g. ``return_coupling=True``.

    Returns
    -------
    Checkpoint

    Raises
    ------
    CheckpointError
        The path holds no complete checkpoint, its state is unreadable, or its parameters do not
        fit the model its configuration names; the message names the file.
    """
    import mxnet as mx
    from ..model_zoo import build_model
    from ..checkpoint import find_checkpoint
    from ..checkpoint import PARAMS, STATE, read_state

    directory = find_checkpoint(path, prefer=prefer)
    state = read_state(directory)
    config = state["config"]
    try:
        net = build_model(config, **model_kwargs)
    except (ConfigError, KeyError, TypeError) as error:
        raise CheckpointError("%s does not describe a model gluon-caps can build (%s)"
                              % (os.path.join(directory, STATE), first_line(error))) from error
    params = os.path.join(directory, PARAMS)
    try:
        net.load_parameters(params, ctx=ctx or mx.cpu())
    except (mx.MXNetError, AssertionError, ValueError, OSError) as error:
        raise CheckpointError(
            "%s does not hold the parameters of %s with input %s and %d classes (%s)"
            % (params, net.model_name, "x".join(map(str, net.input_shape)), net.num_classes,
               first_line(error))) from error
    return Checkpoint(net, config, directory, state)


def describe(checkpoint):
    """One line naming a checkpoint's model, data set, epoch and step (for titles)."""
    return "%s trained on %s (epoch %s, step %s)" % (
        checkpoint.net.model_name, checkpoint.config["dataset"], checkpoint.state.get("epoch"),
        checkpoint.state.get("step"))
