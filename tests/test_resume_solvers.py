"""Exact continuation of a solver run from ``ExecutionStats.state``.

A run stopped after k iterations and continued with ``state=stats.state`` from its solution ends
on the same vector, bit for bit, as one run of the same total length: the method's state (moments,
quasi-Newton pairs, radius, sigma), the batch position and the iteration count all carry over.
"""

from __future__ import annotations

import numpy
import pytest
from minidnn.nlpmodels import NeuralNetModel

from minidnn import datasets, models, solvers

CASES = {
    "adam": {},
    "momentum": {},
    "nesterov": {},
    "adagrad": {},
    "rmsprop": {},
    "sgd": {},
    "lbfgs": {"resample": "iteration"},
    "trunk": {"resample": 3, "cg_max_iter": 5},
    "lsr1": {"resample": "iteration"},
    "r2": {"resample": "iteration", "beta": 0.5},
    "hessian_free": {"resample": "iteration", "cg_max_iter": 4},
    "multibatch_lbfgs": {"mem": 5},
}
TOTAL, FIRST = 40, 17
"""Iterations of the whole run, and where it is interrupted (mid-epoch: 45 batches per epoch)."""


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits"), datasets.load("digits", split="test")


def model(digits) -> NeuralNetModel:
    return NeuralNetModel(models.mlp([64, 12, 10], seed=3), *digits, batch_size=32)


def common(options: dict) -> dict:
    return {"atol": 0.0, "rtol": 0.0, "max_time": None, "eval_every": None, **options}


@pytest.mark.parametrize("method", CASES)
def test_a_continued_run_ends_bit_for_bit_where_an_uninterrupted_one_ends(digits, method):
    options = common(CASES[method])
    whole = solvers.minimize(model(digits), method, max_iter=TOTAL, **options)
    nlp = model(digits)
    first = solvers.minimize(nlp, method, max_iter=FIRST, **options)
    assert first.state is not None and first.state["iterations"] == FIRST
    fresh = model(digits)  # a new process: nothing but the vector and the state carry over
    second = solvers.minimize(
        fresh, method, first.solution, max_iter=TOTAL - FIRST, state=first.state, **options
    )
    assert second.state["iterations"] == TOTAL
    assert numpy.array_equal(second.solution, whole.solution)
    assert fresh.epoch == whole.state["batches"]["minibatches"]["epoch"]


def test_a_continued_run_keeps_the_epoch_budget_of_the_call(digits):
    first = solvers.adam(model(digits), max_iter=50, **common({}))
    nlp = model(digits)
    stats = solvers.adam(nlp, first.solution, max_epochs=1, state=first.state, **common({}))
    assert stats.status == "max_epochs" and nlp.epoch == 2


def test_a_state_of_another_method_is_refused_before_anything_runs(digits):
    first = solvers.adam(model(digits), max_iter=3, **common({}))
    nlp = model(digits)
    with pytest.raises(ValueError, match="method 'adam'"):
        solvers.rmsprop(nlp, first.solution, max_iter=3, state=first.state, **common({}))
    assert nlp.counters.neval_obj == 0


@pytest.mark.parametrize(
    ("method", "path", "value", "message"),
    [
        ("adam", ("solver", "first"), numpy.full(3, 1.0, dtype="float32"), "'first' has shape"),
        ("adam", ("solver", "t"), -1, "'t' must be an integer"),
        ("lbfgs", ("solver", "memory", "count"), 99, "'count' must be in"),
        ("trunk", ("solver", "radius"), float("nan"), "'radius' must be a finite number"),
        ("adam", ("batches", "minibatches", "batch"), 10_000, "'batch' must be an integer"),
    ],
)
def test_a_state_that_does_not_fit_is_refused_and_the_model_stays_put(digits, method, path, value, message):
    options = common(CASES[method])
    first = solvers.minimize(model(digits), method, max_iter=3, **options)
    where = first.state
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = value
    nlp = model(digits)
    with pytest.raises(ValueError, match=message):
        solvers.minimize(nlp, method, first.solution, max_iter=3, state=first.state, **options)
    assert nlp.epoch == 0 and nlp.batch_state()["minibatches"]["batch"] == 0


def test_a_nan_moment_is_refused(digits):
    first = solvers.adam(model(digits), max_iter=3, **common({}))
    first.state["solver"]["second"] = first.state["solver"]["second"] * numpy.float32("nan")
    with pytest.raises(ValueError, match="'second' has NaN"):
        solvers.adam(model(digits), first.solution, max_iter=3, state=first.state, **common({}))


def test_a_run_interrupted_inside_an_iteration_has_no_state(digits):
    def interrupt(nlp, solver, stats):
        if stats.iter == 2:
            solver.advance = lambda x, g: (_ for _ in ()).throw(KeyboardInterrupt)

    stats = solvers.adam(model(digits), max_iter=5, callback=interrupt, **common({}))
    assert stats.status == "user" and stats.iter == 2 and stats.state is None


def test_a_run_stopped_by_its_callback_between_iterations_continues_exactly(digits):
    def stop(nlp, solver, stats):
        if stats.iter == 7:
            stats.status = "user"

    whole = solvers.lbfgs(model(digits), max_iter=12, resample="iteration", **common({}))
    first = solvers.lbfgs(model(digits), callback=stop, resample="iteration", **common({}))
    assert first.status == "user" and first.state["iterations"] == 7
    second = solvers.lbfgs(
        model(digits), first.solution, max_iter=5, state=first.state, resample="iteration", **common({})
    )
    assert numpy.array_equal(second.solution, whole.solution)
