"""Masking of class capsules and the reconstruction decoder."""
from mxnet import gluon

from .functional import capsule_length
from .optional import OptionalInputBlock

__all__ = ["CapsuleMask", "Decoder"]


class CapsuleMask(OptionalInputBlock):
    """Keep the capsules selected by a mask and zero the others (the paper's Section 4.1).

    During training the mask is the one-hot true label; at test time it is the one-hot of the
    longest capsule (pass no mask). Several masks per image (MultiMNIST: one per digit) give one
    masked copy each, so each digit is reconstructed from its own capsule.

    Parameters
    ----------
    num_classes : int
        Number of class capsules.

    Inputs:
        - **v**: class capsules ``(batch, num_classes, dim)``.
        - **mask** (optional): ``(batch, num_classes)`` or ``(batch, num_masks, num_classes)``,
          usually one-hot; omitted, the longest capsule is kept.

    Outputs:
        - **masked**: ``(batch, num_masks, num_classes * dim)``, ``num_masks`` = 1 for a 2-D mask.
    """

    def __init__(self, num_classes, **kwargs):
        super(CapsuleMask, self).__init__(**kwargs)
        self._num_classes = num_classes

    def hybrid_forward(self, F, v, mask=None):
        if mask is None:
            longest = F.argmax(capsule_length(F, v), axis=1)                  # (B,)
            mask = F.one_hot(longest, self._num_classes)                      # (B, K)
        mask = F.reshape(mask, shape=(0, -1, self._num_classes))              # (B, T, K)
        masked = F.broadcast_mul(F.expand_dims(v, 1), F.expand_dims(mask, 3))  # (B, T, K, D)
        return F.reshape(masked, shape=(0, 0, -3))                            # (B, T, K*D)


class Decoder(gluon.HybridBlock):
    """Reconstruction decoder: fully connected 512 -> 1024 -> output, ReLU, ReLU, sigmoid.

    Parameters
    ----------
    in_units : int
        Size of the masked capsule vector (``num_classes * capsule_dim``, 160 for MNIST).
    out_units : int
        Number of pixels of the reconstruction (``channels * height * width``).
    hidden_units : tuple of int, default (512, 1024)
        Sizes of the hidden layers.
    weight_initializer : str or Initializer, optional
        Initializer of the dense weights.

    Inputs:
        - **x**: masked capsules ``(..., in_units)``.

    Outputs:
        - **reconstruction**: pixels in (0, 1), ``(..., out_units)``.
    """

    def __init__(self, in_units, out_units, hidden_units=(512, 1024), weight_initializer=None,
                 **kwargs):
        super(Decoder, self).__init__(**kwargs)
        with self.name_scope():
            self.layers = gluon.nn.HybridSequential()
            units = [in_units] + list(hidden_units)
            for layer_in, layer_out in zip(units[:-1], units[1:]):
                self.layers.add(gluon.nn.Dense(layer_out, activation="relu", flatten=False,
                                               in_units=layer_in,
                                               weight_initializer=weight_initializer))
            self.layers.add(gluon.nn.Dense(out_units, activation="sigmoid", flatten=False,
                                           in_units=units[-1],
                                           weight_initializer=weight_initializer))

    def hybrid_forward(self, F, x):
        return self.layers(x)
