"""The model zoo: one registry of named networks, as in gluon-cv.

>>> from gluon_caps.model_zoo import get_model
>>> net = get_model("capsnet_mnist", num_routing=3)
"""
from ..errors import ConfigError
from .capsnet import CapsNet, capsnet_mnist, capsnet_multimnist, capsnet_smallnorb

__all__ = ["CapsNet", "get_model", "get_model_list", "build_model"]

_models = {
    "capsnet_mnist": capsnet_mnist,
    "capsnet_multimnist": capsnet_multimnist,
    "capsnet_smallnorb": capsnet_smallnorb,
}


def get_model(name, **kwargs):
    """Build a registered model by name.

    Parameters
    ----------
    name : str
        One of :func:`get_model_list` (case-insensitive).
    **kwargs
        Passed to the model's constructor, e.g. ``num_routing``, ``with_decoder``,
        ``num_classes``, ``input_shape``.

    Returns
    -------
    CapsNet
        The network, not yet initialized. ``net.model_name`` holds the registry name.
    """
    key = str(name).lower()
    if key not in _models:
        raise ConfigError("unknown model %r; valid models: %s" % (name, ", ".join(sorted(_models))))
    net = _models[key](**kwargs)
    net.model_name = key
    return net


def get_model_list():
    """Names of the registered models, sorted."""
    return sorted(_models)


def build_model(config, **kwargs):
    """The network a training configuration describes (not initialized).

    Parameters
    ----------
    config : dict
        A resolved configuration (or the ``config`` of a checkpoint's ``state.json``): ``model``,
        ``num_routing``, ``input_shape`` and ``reconstruction_weight`` (0 builds no decoder).
    **kwargs
        More :class:`~gluon_caps.model_zoo.CapsNet` options, e.g. ``return_coupling=True``.
    """
    kwargs.setdefault("num_routing", config["num_routing"])
    kwargs.setdefault("with_decoder", config["reconstruction_weight"] > 0)
    if config.get("input_shape"):
        kwargs.setdefault("input_shape", tuple(config["input_shape"]))
    return get_model(config["model"], **kwargs)
