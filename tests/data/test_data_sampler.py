"""ShardSampler: disjoint equal shards covering the epoch, reshuffled per epoch."""
import numpy as np
import pytest
from mxnet.gluon.data import DataLoader

from gluon_caps.data import ShardSampler
from gluon_caps.errors import ConfigError


def shards(length, num_shards, **kwargs):
    return [list(ShardSampler(length, num_shards, rank, **kwargs)) for rank in range(num_shards)]


@pytest.mark.parametrize("length", [12, 13, 7])
@pytest.mark.parametrize("num_shards", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [True, False])
def test_disjoint_equal_covering(length, num_shards, shuffle):
    parts = shards(length, num_shards, shuffle=shuffle)
    union = [i for part in parts for i in part]
    assert {len(part) for part in parts} == {length // num_shards}
    assert len(set(union)) == len(union) == length - length % num_shards
    assert set(union) <= set(range(length))
    assert len(ShardSampler(length, num_shards, 0)) == length // num_shards


def test_unshuffled_keeps_order():
    assert shards(7, 2, shuffle=False) == [[0, 2, 4], [1, 3, 5]]


def test_epochs_reshuffle_deterministically():
    sampler = ShardSampler(13, 4, 1, seed=3)
    orders = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        orders.append(list(sampler))
    assert orders[0] != orders[1] != orders[2]
    again = ShardSampler(13, 4, 1, seed=3)
    again.set_epoch(1)
    assert list(again) == orders[1]
    assert list(ShardSampler(13, 4, 1, seed=4)) != orders[0]


def test_dropped_tail_changes_between_epochs():
    dropped = []
    samplers = [ShardSampler(11, 4, rank) for rank in range(4)]
    for epoch in range(4):
        seen = set()
        for sampler in samplers:
            sampler.set_epoch(epoch)
            seen.update(sampler)
        dropped.append(frozenset(range(11)) - seen)
    assert all(len(d) == 3 for d in dropped) and len(set(dropped)) > 1


def test_drives_a_dataloader():
    data = np.arange(10, dtype=np.float32)
    batches = DataLoader(data, batch_size=2, sampler=ShardSampler(10, 2, 1, shuffle=False))
    assert np.concatenate([b.asnumpy() for b in batches]).tolist() == [1, 3, 5, 7, 9]


@pytest.mark.parametrize("args, kwargs, name", [
    ((0, 1, 0), {}, "length"), ((5, 0, 0), {}, "num_shards"), ((5, 6, 0), {}, "num_shards"),
    ((5, 2, 2), {}, "shard_id"), ((5, 2, -1), {}, "shard_id"), ((5, 2, 0), {"seed": 1.5}, "seed"),
    ((5, 2, 0), {"shuffle": "yes"}, "shuffle"), ((5.0, 2, 0), {}, "length"),
])
def test_bad_arguments(args, kwargs, name):
    with pytest.raises(ConfigError, match=name):
        ShardSampler(*args, **kwargs)


def test_bad_epoch():
    with pytest.raises(ConfigError, match="epoch"):
        ShardSampler(5).set_epoch(-1)
