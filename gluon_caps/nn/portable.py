"""Exports that load in any MXNet: standard operators in place of the fused ones."""
from ..ops import export_portable

__all__ = ["PortableExport"]


class PortableExport(object):
    """Mixin of a ``HybridBlock`` whose ``export`` writes standard MXNet operators only.

    A graph hybridized on CPU may use the fused operators of :mod:`gluon_caps.ops`, which an
    MXNet that never loaded them cannot run. ``export`` builds the graph of the last call again
    with ``batch_dot`` (see :func:`gluon_caps.ops.export_portable`) and leaves the block's own
    graph as it was. :class:`~gluon_caps.nn.OptionalInputBlock` (and so the model zoo's
    :class:`~gluon_caps.model_zoo.CapsNet`) and the capsule layers derive from it; put it before
    ``HybridBlock`` among the bases of a network of your own::

        class MyCapsNet(PortableExport, gluon.HybridBlock):
            ...
    """

    def export(self, path, epoch=0, remove_amp_cast=True, fused=False):
        """Write ``PATH-symbol.json`` and ``PATH-EEEE.params`` as ``HybridBlock.export`` does.

        Parameters
        ----------
        path : str
            Path prefix of the two files.
        epoch : int, default 0
            Number in the parameter file's name.
        remove_amp_cast : bool, default True
            As in ``HybridBlock.export``.
        fused : bool, default False
            Write the graph as it was built, with the fused operators if it uses them; loading
            it then needs :func:`gluon_caps.ops.load` first.
        """
        if fused:
            super(PortableExport, self).export(path, epoch, remove_amp_cast)
        else:
            export_portable(self, path, epoch, remove_amp_cast)
