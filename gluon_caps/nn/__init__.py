"""Capsule network building blocks, all :class:`mxnet.gluon.HybridBlock`."""
from .functional import squash, capsule_length
from .optional import OptionalInputBlock
from .routing import DynamicRouting
from .layers import Squash, PrimaryCaps, DenseCaps
from .decoder import CapsuleMask, Decoder

__all__ = ["squash", "capsule_length", "Squash", "DynamicRouting", "PrimaryCaps", "DenseCaps",
           "CapsuleMask", "Decoder", "OptionalInputBlock"]
