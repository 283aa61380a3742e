"""A HybridBlock whose trailing inputs may be omitted, hybridized or not."""
from mxnet import gluon

from .portable import PortableExport

__all__ = ["OptionalInputBlock"]

# The attributes in which a MXNet 1.9 HybridBlock keeps its one cached graph.
_CACHED_GRAPH_FIELDS = ("_cached_graph", "_cached_op", "_cached_op_args", "_in_format",
                        "_out_format")


class OptionalInputBlock(PortableExport, gluon.HybridBlock):
    """HybridBlock that keeps one cached graph per set of given inputs.

    A hybridized MXNet 1.9 block caches the graph of its first call and rejects later calls with
    other inputs, so ``net(x, label_mask)`` in training and ``net(x)`` in evaluation could not
    alternate. This base class keeps one cached graph per pattern of omitted trailing inputs
    (``None``) and switches between them; ``export`` saves the graph of the last call, with
    standard MXNet operators unless asked for the fused ones (:class:`PortableExport`).
    """

    def forward(self, x, *args):
        while args and args[-1] is None:
            args = args[:-1]
        given = tuple(arg is not None for arg in args)
        current = getattr(self, "_given_inputs", None)
        if self._active and given != current:
            graphs = self.__dict__.setdefault("_graphs_by_inputs", {})
            if current is not None:
                graphs[current] = {field: getattr(self, field) for field in _CACHED_GRAPH_FIELDS}
            saved = graphs.pop(given, None)
            if saved is None:
                super(OptionalInputBlock, self)._clear_cached_op()
            else:
                for field, value in saved.items():
                    setattr(self, field, value)
            self._given_inputs = given
        return super(OptionalInputBlock, self).forward(x, *args)

    def _clear_cached_op(self):
        super(OptionalInputBlock, self)._clear_cached_op()
        self._graphs_by_inputs = {}
        self._given_inputs = None
