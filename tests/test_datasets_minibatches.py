"""Minibatches: every sample once per epoch, seeded per-epoch orders, the cursor API."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minidnn.datasets import Dataset, DatasetError, Minibatches


def indexed(n):
    """A dataset whose label is the sample's index, and whose pixel encodes it too."""
    x = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1)
    return Dataset(x, np.arange(n, dtype=np.int64), tuple(map(str, range(n))), "toy", "train")


@st.composite
def settings(draw):
    n = draw(st.integers(1, 60))
    return {
        "dataset": indexed(n),
        "batch_size": draw(st.integers(1, n)),
        "shuffle": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**63)),
    }


@given(config=settings(), epochs=st.integers(1, 3))
def test_every_sample_exactly_once_per_epoch(config, epochs):
    batches = Minibatches(**config)
    n, size = len(config["dataset"]), config["batch_size"]
    for epoch in range(epochs):
        assert batches.epoch == epoch and batches.batch_index == 0
        seen = []
        for x, y in batches:
            assert len(y) <= size and x.shape == (len(y), 1, 1, 1)
            np.testing.assert_array_equal(x[:, 0, 0, 0], y)
            seen.append(y)
        assert len(seen) == len(batches) == -(-n // size)
        np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(n))
        assert all(len(y) == size for y in seen[:-1])


@given(config=settings())
def test_drop_last_gives_full_batches_of_distinct_samples(config):
    batches = Minibatches(**config, drop_last=True)
    n, size = len(config["dataset"]), config["batch_size"]
    ys = [y for _, y in batches]
    assert len(ys) == len(batches) == n // size
    assert all(len(y) == size for y in ys)
    flat = np.concatenate(ys)
    assert len(np.unique(flat)) == len(flat) == (n // size) * size


@given(config=settings(), steps=st.integers(0, 200))
def test_next_batch_signals_each_new_epoch(config, steps):
    batches = Minibatches(**config)
    per_epoch = len(batches)
    for step in range(1, steps + 1):
        was_last = batches.is_last
        _, _, new_epoch = batches.next_batch()
        assert new_epoch == (step % per_epoch == 0) == was_last
        assert batches.epoch == step // per_epoch
        assert batches.batch_index == step % per_epoch
    assert batches.version == steps + 1


@given(config=settings(), consumed=st.integers(0, 50), epoch=st.integers(0, 4))
def test_epoch_order_depends_only_on_seed_and_epoch(config, consumed, epoch):
    walked = Minibatches(**config)
    for _ in range(consumed):
        walked.advance()
    other = dict(config, batch_size=1)
    np.testing.assert_array_equal(walked.order(epoch), Minibatches(**other).order(epoch))


def test_same_seed_same_batches_other_seed_other_order():
    data = indexed(50)
    first = [y for _, y in Minibatches(data, 7, seed=3)]
    second = [y for _, y in Minibatches(data, 7, seed=3)]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(Minibatches(data, 7, seed=4).order(0), np.concatenate(first))


def test_each_epoch_is_reshuffled():
    batches = Minibatches(indexed(40), 40, seed=0)
    assert not np.array_equal(batches.order(0), batches.order(1))
    assert not np.array_equal(batches.order(0), np.arange(40))


def test_without_shuffle_the_order_is_the_dataset_order():
    batches = Minibatches(indexed(10), 4, shuffle=False)
    assert [list(y) for _, y in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [list(y) for _, y in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches.epoch == 2


def test_current_is_stable_until_advanced():
    batches = Minibatches(indexed(10), 3)
    first = batches.current()[1]
    np.testing.assert_array_equal(batches.current()[1], first)
    np.testing.assert_array_equal(batches.indices(), first)
    x, y, new_epoch = batches.next_batch()
    assert not new_epoch and not np.array_equal(y, first)


def test_reset_restarts_epochs_and_random_batches():
    batches = Minibatches(indexed(30), 4, seed=5)
    start = batches.current()[1]
    randoms = [batches.random_batch()[1] for _ in range(3)]
    for _ in range(11):
        batches.advance()
    batches.reset()
    assert (batches.epoch, batches.batch_index) == (0, 0)
    np.testing.assert_array_equal(batches.current()[1], start)
    for expected in randoms:
        np.testing.assert_array_equal(batches.random_batch()[1], expected)


@given(config=settings(), seed=st.integers(0, 1000))
def test_random_batch_draws_distinct_samples_and_keeps_the_cursor(config, seed):
    batches = Minibatches(**config)
    batches.advance()
    where = (batches.epoch, batches.batch_index)
    x, y = batches.random_batch(np.random.default_rng(seed))
    assert len(y) == config["batch_size"] and len(np.unique(y)) == len(y)
    np.testing.assert_array_equal(x[:, 0, 0, 0], y)
    assert (batches.epoch, batches.batch_index) == where


def test_set_batch_size_restarts_the_current_epoch_in_the_same_order():
    batches = Minibatches(indexed(20), 3, seed=1)
    for _ in range(9):
        batches.advance()
    epoch, order = batches.epoch, batches.order().copy()
    version = batches.version
    batches.set_batch_size(8)
    assert (batches.epoch, batches.batch_index, len(batches)) == (epoch, 0, 3)
    assert batches.batch_size == 8 and batches.version == version + 1
    np.testing.assert_array_equal(batches.indices(), order[:8])


def test_batches_go_through_to_device():
    moved = []

    def to_device(array):
        moved.append(array.dtype)
        return ("on-device", array)

    batches = Minibatches(indexed(6), 4, to_device=to_device)
    x, y = batches.current()
    assert x[0] == "on-device" and y[0] == "on-device"
    assert moved == [np.float32, np.int64]
    _, _, _ = batches.next_batch()
    x, y = batches.random_batch()
    assert x[0] == "on-device" and len(moved) == 6


def test_default_batches_are_numpy_copies():
    data = indexed(6)
    x, y = Minibatches(data, 6, shuffle=False).current()
    assert isinstance(x, np.ndarray) and x.dtype == np.float32 and y.dtype == np.int64
    x[:] = -1
    assert data.x.min() == 0


def test_full_batch_is_one_batch_per_epoch():
    batches = Minibatches(indexed(9), 9)
    assert len(batches) == 1 and batches.is_last
    assert batches.advance() and batches.epoch == 1


@pytest.mark.parametrize("size", [0, -1, 11, 2.5, "4", True, None])
def test_bad_batch_sizes_name_the_argument_and_value(size):
    with pytest.raises(DatasetError, match=f"batch_size .*1..10.*got {size!r}"):
        Minibatches(indexed(10), size)
    batches = Minibatches(indexed(10), 2)
    with pytest.raises(DatasetError, match="batch_size"):
        batches.set_batch_size(size)


@pytest.mark.parametrize("seed", [-1, 1.5, None])
def test_bad_seeds(seed):
    with pytest.raises(DatasetError, match=f"seed .*got {seed!r}"):
        Minibatches(indexed(10), 2, seed=seed)


def test_numpy_integers_are_accepted():
    batches = Minibatches(indexed(10), np.int64(4), seed=np.uint32(2))
    assert batches.batch_size == 4 and batches.seed == 2 and len(batches) == 3
    assert "batch_size=4" in repr(batches)
