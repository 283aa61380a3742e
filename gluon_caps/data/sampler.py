"""Sharding an epoch across data-parallel workers (e.g. Horovod ranks)."""
import numpy as np
from mxnet.gluon.data import Sampler

from ..errors import ConfigError
from ..errors import check_int

__all__ = ["ShardSampler", "EpochBatches"]


class ShardSampler(Sampler):
    """Sample one rank's shard of each epoch: shards are disjoint and equally sized.

    Each epoch, the indices ``0..length-1`` are permuted from ``(seed, epoch)`` (or kept in order
    when ``shuffle`` is off); the last ``length % num_shards`` of that order are dropped so that
    every shard has ``length // num_shards`` indices, and shard ``shard_id`` takes every
    ``num_shards``-th of the rest starting at ``shard_id``. With shuffling, the dropped indices
    change from epoch to epoch; without, the same tail is dropped every epoch.

    Parameters
    ----------
    length : int
        Size of the data set.
    num_shards : int
        Number of ranks, ``1 <= num_shards <= length``.
    shard_id : int
        This rank, ``0 <= shard_id < num_shards``.
    shuffle : bool
        Permute each epoch.
    seed : int
        Seed of the permutations; all ranks must pass the same.
    """

    def __init__(self, length, num_shards=1, shard_id=0, shuffle=True, seed=0):
        self.length = check_int("length", length, 1)
        self.num_shards = check_int("num_shards", num_shards, 1, self.length)
        self.shard_id = check_int("shard_id", shard_id, 0, self.num_shards - 1)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise ConfigError("shuffle must be True or False, got %r" % (shuffle,))
        self.shuffle = bool(shuffle)
        self.seed = check_int("seed", seed, 0)
        self.epoch = 0

    def set_epoch(self, epoch):
        """Select the epoch whose order the next iteration yields (all ranks must agree)."""
        self.epoch = check_int("epoch", epoch, 0)

    def indices(self):
        """Return this shard's indices for the current epoch: int64, shape (len(self),)."""
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.length)
        else:
            order = np.arange(self.length)
        return order[self.shard_id:len(self) * self.num_shards:self.num_shards]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.length // self.num_shards


class EpochBatches(object):
    """Batch sampler over a :class:`ShardSampler`'s epoch, for training.

    Yields lists of ``batch_size`` keys ``(epoch, index)`` (read by
    :class:`~gluon_caps.data.SeededTransform`, whose augmentation they seed), the incomplete last
    batch dropped, from batch :attr:`skip` on, so that a run resumed mid-epoch continues with the
    batch it would have taken next.

    Parameters
    ----------
    sampler : ShardSampler
        This rank's shard; :meth:`set_epoch` selects the epoch of both.
    batch_size : int
        Samples per batch (per worker).
    """

    def __init__(self, sampler, batch_size):
        self.sampler = sampler
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.skip = 0

    def set_epoch(self, epoch, skip=0):
        """Select the epoch of the next iteration and the number of its batches already done."""
        self.sampler.set_epoch(epoch)
        self.skip = check_int("skip", skip, 0, len(self))

    def __iter__(self):
        epoch = self.sampler.epoch
        indices = self.sampler.indices()
        for start in range(self.skip * self.batch_size, len(self) * self.batch_size,
                           self.batch_size):
            yield [(epoch, int(index)) for index in indices[start:start + self.batch_size]]

    def __len__(self):
        return len(self.sampler) // self.batch_size
