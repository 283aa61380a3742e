"""Trained networks by name: a training checkpoint (read by
:func:`gluon_caps.checkpoint.load_checkpoint`) or the pretrained weights of the model zoo
(``pretrained:NAME``), and their one-line descriptions."""
from ..checkpoint import Checkpoint, load_checkpoint

__all__ = ["Checkpoint", "PRETRAINED_PREFIX", "load_checkpoint", "load_trained", "describe"]

#: ``pretrained:capsnet_mnist`` names the shipped weights of a zoo model where a checkpoint goes.
PRETRAINED_PREFIX = "pretrained:"


def load_trained(path, ctx=None, grad_req="null", **model_kwargs):
    """A trained network as a :class:`~gluon_caps.checkpoint.Checkpoint`: from a checkpoint
    (a run directory, a checkpoint directory or a file in one), or from the model zoo's
    pretrained weights when ``path`` is ``pretrained:NAME``. Its parameters have ``grad_req``
    (by default ``'null'``: no gradient arrays, for inference; ``'write'`` to train it on).

    Raises
    ------
    ConfigError
        ``pretrained:NAME`` of a model without pretrained weights.
    CheckpointError
        Nothing loadable there, damaged weights; the message names the file.
    """
    if not path.startswith(PRETRAINED_PREFIX):
        return load_checkpoint(path, ctx, grad_req=grad_req, **model_kwargs)
    from ..model_zoo import get_model, pretrained_info
    name = path[len(PRETRAINED_PREFIX):]
    net = get_model(name, pretrained=True, ctx=ctx, **model_kwargs)   # an unknown name: said
    net.collect_params().setattr("grad_req", grad_req)
    info = pretrained_info(name)
    state = {key: info.get(key) for key in ("epoch", "step", "val_error", "test_error")}
    return Checkpoint(net, dict(info["config"]), path, dict(state, config=info["config"]))


def describe(checkpoint):
    """One line naming a checkpoint's model, data set, epoch and step (for titles)."""
    return "%s trained on %s (epoch %s, step %s)" % (
        checkpoint.net.model_name, checkpoint.config["dataset"], checkpoint.state.get("epoch"),
        checkpoint.state.get("step"))
