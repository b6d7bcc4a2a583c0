"""The pieces of a run's state: a minibatch cursor with its generator, and a quasi-Newton
operator's memory, each exported and taken back exactly (and checked)."""

from __future__ import annotations

import numpy
import pytest
from minidnn.nlpmodels import InverseLBFGSOperator, LBFGSOperator, LSR1Operator

from minidnn import datasets


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


def test_a_restored_cursor_gives_the_same_batches_and_random_batches(digits):
    batches = datasets.Minibatches(digits, 100, seed=4)
    for _ in range(20):
        batches.advance()
    batches.random_batch()
    state = batches.state()
    expected = [batches.next_batch()[1] for _ in range(5)] + [batches.random_batch()[1]]
    other = datasets.Minibatches(digits, 100, seed=4)
    other.restore(state)
    assert (other.epoch, other.batch_index) == (state["epoch"], state["batch"]) == (1, 5)
    found = [other.next_batch()[1] for _ in range(5)] + [other.random_batch()[1]]
    assert all(numpy.array_equal(a, b) for a, b in zip(expected, found))


@pytest.mark.parametrize(
    ("entry", "value", "message"),
    [
        ("batch", 99, "'batch' must be an integer 0..11"),
        ("epoch", -1, "'epoch'"),
        ("batch_size", 7, "'batch_size'"),
        ("random", {"bit_generator": "nope"}, "'random' is not a generator state"),
    ],
)
def test_a_bad_cursor_is_refused_and_nothing_changes(digits, entry, value, message):
    batches = datasets.Minibatches(digits, 128)
    state = {**batches.state(), entry: value}
    batches.advance()
    with pytest.raises(datasets.DatasetError, match=message):
        batches.restore(state)
    assert (batches.epoch, batches.batch_index) == (0, 1)


@pytest.mark.parametrize("operator", [InverseLBFGSOperator, LBFGSOperator, LSR1Operator])
def test_a_restored_operator_gives_the_same_products_bit_for_bit(operator):
    rng = numpy.random.default_rng(0)
    n, mem = 12, 3
    op = operator(n, mem=mem)
    for _ in range(5):  # more pairs than mem: the ring has wrapped
        s = rng.standard_normal(n).astype("float32")
        op.push(s, (s * rng.uniform(0.5, 2.0, n)).astype("float32"))
    copy = operator(n, mem=mem)
    copy.restore(
        {key: numpy.array(value) for key, value in op.state().items()}
        | {"count": op.npairs, "newest": op.pairs.newest}
    )
    v = rng.standard_normal(n).astype("float32")
    assert copy.npairs == op.npairs == mem
    assert numpy.array_equal(copy.matvec(v), op.matvec(v))
    s = rng.standard_normal(n).astype("float32")
    assert op.push(s, 2 * s) == copy.push(s, 2 * s)
    assert numpy.array_equal(copy.matvec(v), op.matvec(v))


def test_an_operator_state_that_does_not_fit_is_refused_before_anything_changes():
    op = LBFGSOperator(4, mem=2)
    state = LBFGSOperator(5, mem=2).state()
    with pytest.raises(ValueError, match="'rows' has shape"):
        op.restore(state)
    state = {**op.state(), "count": 3}
    with pytest.raises(ValueError, match="'count' must be in 0..2"):
        op.restore(state)
    state = {**op.state(), "sigma": numpy.float32("nan")}
    with pytest.raises(ValueError, match="'sigma' has NaN"):
        op.restore(state)
    assert op.npairs == 0
