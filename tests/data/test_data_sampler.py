"""ShardSampler and EpochBatches (disjoint equal shards, reshuffled per epoch); SeededTransform."""
import numpy as np
import pytest
from mxnet.gluon.data import ArrayDataset, DataLoader

from gluon_caps.data import EpochBatches, RandomShift, SeededTransform, ShardSampler
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


def test_epoch_batches_carry_the_epoch_and_resume_at_a_batch():
    sampler = ShardSampler(40, num_shards=2, shard_id=1, seed=5)
    batches = EpochBatches(sampler, 4)
    batches.set_epoch(3)
    whole = list(batches)
    assert len(whole) == len(batches) == 5
    assert all(epoch == 3 for batch in whole for epoch, _ in batch)
    assert [index for batch in whole for _, index in batch] == sampler.indices().tolist()
    batches.set_epoch(3, skip=2)
    assert list(batches) == whole[2:]
    with pytest.raises(ConfigError, match="skip must be an integer in 0..5"):
        batches.set_epoch(3, skip=6)


def test_seeded_transform_draws_from_seed_epoch_and_index_in_any_process():
    images = np.arange(12 * 6 * 6, dtype=np.float32).reshape(12, 1, 6, 6)
    data = SeededTransform(ArrayDataset(images, np.arange(12)), RandomShift(2), seed=7)
    batches = EpochBatches(ShardSampler(12, seed=7), 4)
    batches.set_epoch(2)
    inline = [batch[0].asnumpy() for batch in DataLoader(data, batch_sampler=batches)]
    forked = [batch[0].asnumpy() for batch in DataLoader(data, batch_sampler=batches,
                                                         num_workers=2)]
    for first, second in zip(inline, forked):
        np.testing.assert_array_equal(first, second)
    assert not np.array_equal(data[(2, 0)][0], data[(3, 0)][0]) or \
        not np.array_equal(data[(2, 1)][0], data[(3, 1)][0])
    assert SeededTransform(ArrayDataset(images, np.arange(12)), None, 7)[(5, 3)][1] == 3
