"""Capsule network losses: :class:`mxnet.gluon.loss.Loss` subclasses, one value per sample."""
from mxnet.gluon.loss import Loss, _apply_weighting

__all__ = ["MarginLoss", "ReconstructionLoss", "CapsuleLoss"]


class MarginLoss(Loss):
    r"""Margin loss of Sabour et al. (2017), Eq. 4, summed over classes.

    .. math::
        L = \sum_k T_k \max(0, m^+ - \|v_k\|)^2 + \lambda (1 - T_k) \max(0, \|v_k\| - m^-)^2

    ``label`` is a k-hot target, so an image with two digits (MultiMNIST) simply has two ones.
    The authors' official code multiplies this by 0.5; pass ``weight=0.5`` to match it.

    Parameters
    ----------
    m_plus : float, default 0.9
        Length a present class's capsule must exceed.
    m_minus : float, default 0.1
        Length an absent class's capsule must stay below.
    lambda_ : float, default 0.5
        Down-weighting of the absent-class term.
    weight : float, optional
        Global scalar weight of the loss.
    batch_axis : int, default 0
        The batch axis.

    Inputs:
        - **lengths**: capsule lengths ``(batch, num_classes)``.
        - **label**: k-hot targets ``(batch, num_classes)``, 1 for each present class.
        - **sample_weight** (optional): broadcastable to ``(batch, num_classes)``.

    Outputs:
        - **loss**: ``(batch,)``.
    """

    def __init__(self, m_plus=0.9, m_minus=0.1, lambda_=0.5, weight=None, batch_axis=0, **kwargs):
        super(MarginLoss, self).__init__(weight, batch_axis, **kwargs)
        self._m_plus = m_plus
        self._m_minus = m_minus
        self._lambda = lambda_

    def hybrid_forward(self, F, lengths, label, sample_weight=None):
        present = F.square(F.relu(self._m_plus - lengths))                   # (B, K)
        absent = F.square(F.relu(lengths - self._m_minus))                   # (B, K)
        loss = label * present + self._lambda * (1 - label) * absent         # (B, K)
        loss = _apply_weighting(F, loss, self._weight, sample_weight)
        return F.sum(loss, axis=self._batch_axis, exclude=True)              # (B,)


class ReconstructionLoss(Loss):
    """Sum of squared pixel errors per sample (the paper's reconstruction loss, unscaled).

    Parameters
    ----------
    weight : float, optional
        Global scalar weight of the loss.
    batch_axis : int, default 0
        The batch axis.

    Inputs:
        - **reconstruction**: ``(batch, ...)``, e.g. ``(batch, 784)`` or ``(batch, 2, 1296)``.
        - **image**: targets with the same number of elements per sample, e.g.
          ``(batch, 1, 28, 28)`` or ``(batch, 2, 1, 36, 36)``.
        - **sample_weight** (optional): ``(batch, 1)``.

    Outputs:
        - **loss**: ``(batch,)``.
    """

    def __init__(self, weight=None, batch_axis=0, **kwargs):
        super(ReconstructionLoss, self).__init__(weight, batch_axis, **kwargs)

    def hybrid_forward(self, F, reconstruction, image, sample_weight=None):
        error = F.reshape(reconstruction, shape=(0, -1)) - F.reshape(image, shape=(0, -1))  # (B, P)
        loss = _apply_weighting(F, F.square(error), self._weight, sample_weight)            # (B, P)
        return F.sum(loss, axis=self._batch_axis, exclude=True)                             # (B,)


class CapsuleLoss(Loss):
    """Margin loss plus the down-weighted reconstruction loss (the paper's total loss).

    Parameters
    ----------
    reconstruction_weight : float, default 0.0005
        Scale of the sum-of-squares reconstruction loss, as in the paper (so that it does not
        dominate the margin loss); 0 trains without reconstruction regularisation.
    m_plus, m_minus, lambda_ : float
        Passed to :class:`MarginLoss`.
    weight : float, optional
        Global scalar weight of the total loss.
    batch_axis : int, default 0
        The batch axis.

    Inputs:
        - **lengths**: capsule lengths ``(batch, num_classes)``.
        - **label**: k-hot targets ``(batch, num_classes)``.
        - **reconstruction** (optional): decoder output, e.g. ``(batch, 784)``; ``None`` (a
          network without a decoder) leaves the margin loss alone.
        - **image** (with a reconstruction): its targets, e.g. ``(batch, 1, 28, 28)``.
        - **sample_weight** (optional): ``(batch, 1)``.

    Outputs:
        - **loss**: ``(batch,)``.
    """

    def __init__(self, reconstruction_weight=0.0005, m_plus=0.9, m_minus=0.1, lambda_=0.5,
                 weight=None, batch_axis=0, **kwargs):
        super(CapsuleLoss, self).__init__(weight, batch_axis, **kwargs)
        self._reconstruction_weight = reconstruction_weight
        with self.name_scope():
            self.margin = MarginLoss(m_plus, m_minus, lambda_, batch_axis=batch_axis)
            self.reconstruction = ReconstructionLoss(batch_axis=batch_axis)

    def hybrid_forward(self, F, lengths, label, reconstruction=None, image=None,
                       sample_weight=None):
        loss = self.margin(lengths, label, sample_weight)                               # (B,)
        if reconstruction is not None:
            error = self.reconstruction(reconstruction, image, sample_weight)           # (B,)
            loss = loss + self._reconstruction_weight * error
        return _apply_weighting(F, loss, self._weight)
