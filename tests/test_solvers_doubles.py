"""The test doubles of ``doubles.py`` against their definitions: batches and epochs, derivatives
against finite differences, the strict backend."""

from __future__ import annotations

import numpy
import pytest
from doubles import MinibatchLogistic

from minidnn import backend as backends


def test_minibatch_double_moves_batches_and_epochs() -> None:
    nlp = MinibatchLogistic(samples=120, batch_size=30)
    assert nlp.batches_per_epoch == 4
    versions = [nlp.batch_version]
    flags = [nlp.next_minibatch() for _ in range(8)]
    assert flags == [False, False, False, True, False, False, False, True]
    assert nlp.epoch == 2
    versions.append(nlp.batch_version)
    assert versions[1] == versions[0] + 8


def test_minibatch_double_derivatives_match_finite_differences() -> None:
    nlp = MinibatchLogistic()
    rng = numpy.random.default_rng(3)
    x, v = rng.standard_normal(5), rng.standard_normal(5)
    h = 1e-6
    fd = (nlp.obj(x + h * v) - nlp.obj(x - h * v)) / (2 * h)
    assert fd == pytest.approx(float(nlp.grad(x) @ v), rel=1e-6)
    fd_h = (nlp.grad(x + h * v) - nlp.grad(x - h * v)) / (2 * h)
    numpy.testing.assert_allclose(nlp.hprod(x, v), fd_h, rtol=1e-5, atol=1e-8)


def test_minibatch_double_accuracy_and_strict_backend() -> None:
    nlp = MinibatchLogistic(backend="array-api-strict")
    be = backends.get("array-api-strict")
    assert be.owns(nlp.meta.x0)
    assert 0.0 <= nlp.accuracy(nlp.meta.x0) <= 1.0
