"""Capsule network building blocks, all :class:`mxnet.gluon.HybridBlock`, and the
:class:`PortableExport` mixin of their exports."""
from .functional import squash, capsule_length
from .portable import PortableExport
from .optional import OptionalInputBlock
from .routing import DynamicRouting, route_by_agreement, route_from_capsules
from .layers import Squash, PrimaryCaps, CapsulePredictions, DenseCaps
from .decoder import CapsuleMask, Decoder
from .fast import fast_forward

__all__ = ["squash", "capsule_length", "Squash", "DynamicRouting", "route_by_agreement",
           "route_from_capsules", "PrimaryCaps", "CapsulePredictions", "DenseCaps", "CapsuleMask",
           "Decoder", "OptionalInputBlock", "PortableExport", "fast_forward"]
