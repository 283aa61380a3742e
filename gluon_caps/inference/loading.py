"""Networks loaded from training checkpoints (the loader itself is
:func:`gluon_caps.checkpoint.load_checkpoint`), and their one-line descriptions."""
from ..checkpoint import Checkpoint, load_checkpoint

__all__ = ["Checkpoint", "load_checkpoint", "describe"]


def describe(checkpoint):
    """One line naming a checkpoint's model, data set, epoch and step (for titles)."""
    return "%s trained on %s (epoch %s, step %s)" % (
        checkpoint.net.model_name, checkpoint.config["dataset"], checkpoint.state.get("epoch"),
        checkpoint.state.get("step"))
