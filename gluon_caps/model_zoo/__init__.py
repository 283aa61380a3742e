"""The model zoo: one registry of named networks, as in gluon-cv, some with pretrained weights.

>>> from gluon_caps.model_zoo import get_model
>>> net = get_model("capsnet_mnist", num_routing=3)
>>> trained = get_model("capsnet_mnist", pretrained=True)
"""
from ..errors import CheckpointError, ConfigError
from .capsnet import CapsNet, capsnet_mnist, capsnet_multimnist, capsnet_smallnorb
from .pretrained import pretrained_file, pretrained_info, pretrained_models

__all__ = ["CapsNet", "get_model", "get_model_list", "build_model", "pretrained_models",
           "pretrained_info"]

_models = {
    "capsnet_mnist": capsnet_mnist,
    "capsnet_multimnist": capsnet_multimnist,
    "capsnet_smallnorb": capsnet_smallnorb,
}


def get_model(name, pretrained=False, ctx=None, **kwargs):
    """Build a registered model by name.

    Parameters
    ----------
    name : str
        One of :func:`get_model_list` (case-insensitive).
    pretrained : bool
        Load the weights shipped with the package (:func:`pretrained_models` lists the models
        that have some), verified by their sha256.
    ctx : mxnet.Context, optional
        Where pretrained weights go (default the CPU).
    **kwargs
        Passed to the model's constructor, e.g. ``num_routing``, ``with_decoder``,
        ``num_classes``, ``input_shape``.

    Returns
    -------
    CapsNet
        The network: not yet initialized, or with the pretrained weights. ``net.model_name``
        holds the registry name.

    Raises
    ------
    ConfigError
        An unknown name, or ``pretrained`` for a model without pretrained weights.
    CheckpointError
        The shipped weights are missing or damaged, or do not fit the network ``kwargs``
        build; the message names the file.
    """
    key = str(name).lower()
    if key not in _models:
        raise ConfigError("unknown model %r; valid models: %s" % (name, ", ".join(sorted(_models))))
    path = pretrained_file(key) if pretrained else None
    net = _models[key](**kwargs)
    net.model_name = key
    if path is not None:
        import mxnet as mx
        try:
            net.load_parameters(path, ctx=ctx or mx.cpu())
        except (mx.base.MXNetError, AssertionError, ValueError) as error:
            raise CheckpointError("the pretrained weights %s do not fit %s built with %r"
                                  % (path, key, kwargs)) from error
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
