"""What the class capsules of a network encode: reconstructions, dimension perturbations and the
routing's coupling coefficients (imperative; for figures)."""
import numpy as np

from ..errors import ConfigError

__all__ = ["PERTURBATION_STEPS", "reconstruct_images", "perturb_capsule", "coupling_maps"]

#: The paper's Fig. 4: each dimension tweaked by -0.25 .. 0.25 in steps of 0.05.
PERTURBATION_STEPS = tuple(np.round(np.linspace(-0.25, 0.25, 11), 2).tolist())


def _check_decoder(net):
    if net.decoder is None:
        raise ConfigError("model %s was trained without a decoder (reconstruction_weight 0): it "
                          "cannot reconstruct images" % net.model_name)


def _as_images(flat, net):
    return flat.asnumpy().reshape(flat.shape[:-1] + tuple(net.input_shape))


def reconstruct_images(net, images, top=1):
    """Decode images from their longest class capsules.

    Parameters
    ----------
    net : CapsNet
        A network with a decoder.
    images : numpy.ndarray
        float32 ``(N, C, H, W)``.
    top : int
        Capsules decoded per image, longest first (2 for MultiMNIST: one digit each).

    Returns
    -------
    lengths : numpy.ndarray
        ``(N, K)`` capsule lengths.
    classes : numpy.ndarray
        int64 ``(N, top)``: the decoded classes.
    reconstructions : numpy.ndarray
        ``(N, top, C, H, W)``.
    """
    import mxnet as mx
    from ..nn import capsule_length
    _check_decoder(net)
    ctx = net.collect_params().list_ctx()[0]
    capsules = net.capsules(mx.nd.array(images, ctx=ctx))                   # (N, K, D)
    lengths = capsule_length(mx.nd, capsules)                               # (N, K)
    classes = lengths.topk(k=top, axis=1)                                   # (N, top)
    decoded = net.reconstruct(capsules, mx.nd.one_hot(classes, net.num_classes))
    return (lengths.asnumpy(), classes.asnumpy().astype(np.int64),
            _as_images(decoded, net).reshape((len(images), top) + tuple(net.input_shape)))


def perturb_capsule(net, image, class_index, steps=PERTURBATION_STEPS):
    """Decode one image's class capsule with each dimension tweaked (the paper's Fig. 4).

    Parameters
    ----------
    net : CapsNet
        A network with a decoder.
    image : numpy.ndarray
        float32 ``(C, H, W)``.
    class_index : int
        The capsule tweaked and decoded (the others are masked out).
    steps : sequence of float
        Values added to one dimension at a time.

    Returns
    -------
    numpy.ndarray
        ``(D, len(steps), C, H, W)``: row ``d`` decodes the capsule with ``steps[s]`` added to its
        dimension ``d``.
    """
    import mxnet as mx
    _check_decoder(net)
    ctx = net.collect_params().list_ctx()[0]
    capsule = net.capsules(mx.nd.array(image[None], ctx=ctx))              # (1, K, D)
    classes, dims = capsule.shape[1:]
    tweaks = np.zeros((dims, len(steps), classes, dims), dtype=np.float32)
    for dim in range(dims):
        tweaks[dim, :, class_index, dim] = steps
    batch = capsule + mx.nd.array(tweaks.reshape((-1, classes, dims)), ctx=ctx)
    mask = mx.nd.one_hot(mx.nd.full((len(batch),), class_index, ctx=ctx), classes)
    return _as_images(net.reconstruct(batch, mask), net).reshape(
        (dims, len(steps)) + tuple(net.input_shape))


def coupling_maps(net, image):
    """The coupling coefficients of one image over the primary-capsule grid.

    Parameters
    ----------
    net : CapsNet
        Built with ``return_coupling=True``.
    image : numpy.ndarray
        float32 ``(C, H, W)``.

    Returns
    -------
    lengths : numpy.ndarray
        ``(K,)`` capsule lengths.
    coupling : numpy.ndarray
        ``(T, H', W', K)``: :math:`c_{ij}` of the last routing iteration from the primary capsule
        of type ``t`` at grid position ``(y, x)`` to class ``j`` (each sums to 1 over ``j``).
    """
    import mxnet as mx
    ctx = net.collect_params().list_ctx()[0]
    outputs = net(mx.nd.array(image[None], ctx=ctx))
    if outputs[-1].ndim != 3:
        raise ConfigError("coupling_maps needs a network built with return_coupling=True")
    return (outputs[0][0].asnumpy(),
            outputs[-1][0].asnumpy().reshape(tuple(net.primary_grid) + (net.num_classes,)))
