"""The ``average`` option: an exponential average of the iterates beside the solution.

The average equals the weighted mean Σ β^(k-i) x_i / Σ β^(k-i) of the iterates the callback sees,
never changes the iterates, is where the history's test accuracy is measured, and continues bit for
bit across a stopped and continued run; the command line evaluates and reports it.
"""

from __future__ import annotations

import json

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minidnn.nlpmodels import NeuralNetModel
from minidnn.solvers.iterate_average import IterateAverage

from minidnn import backend, datasets, models, solvers
from minidnn.cli import checkpoint as checkpoints
from minidnn.cli import main

NUMPY = backend.get("numpy")


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits"), datasets.load("digits", split="test")


def model(digits, dtype: str = "float32") -> NeuralNetModel:
    return NeuralNetModel(models.mlp([64, 12, 10], seed=3), *digits, batch_size=32, dtype=dtype)


def common(**options) -> dict:
    return {"atol": 0.0, "rtol": 0.0, "max_time": None, "eval_every": None, **options}


def weighted_mean(points: list[numpy.ndarray], decay: float) -> numpy.ndarray:
    """Σ β^(k-i) x_i / Σ β^(k-i), straight from the definition (float64)."""
    weights = decay ** numpy.arange(len(points) - 1, -1, -1, dtype=numpy.float64)
    return numpy.tensordot(weights, numpy.asarray(points, dtype=numpy.float64), axes=1) / weights.sum()


@given(
    decay=st.floats(0.0, 0.999),
    points=st.lists(st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=3), min_size=1, max_size=30),
)
def test_the_update_is_the_exponentially_weighted_mean_of_the_points(decay, points):
    vectors = [numpy.asarray(p, dtype=numpy.float64) for p in points]
    average = IterateAverage(decay, vectors[0], NUMPY)
    for vector in vectors:
        average.update(vector)
    expected = weighted_mean(vectors, decay)
    assert average.count == len(vectors)
    numpy.testing.assert_allclose(
        average.point, expected, rtol=1e-9, atol=1e-9 * max(1.0, abs(expected).max())
    )


def test_decay_zero_is_the_last_point_and_the_first_update_is_the_first_point():
    first, second = (
        numpy.array([1.0, -2.0], dtype=numpy.float32),
        numpy.array([3.0, 5.0], dtype=numpy.float32),
    )
    average = IterateAverage(0.5, first, NUMPY)
    average.update(first)
    assert numpy.array_equal(average.point, first) and average.point.dtype == numpy.float32
    last = IterateAverage(0.0, first, NUMPY)
    last.update(first)
    last.update(second)
    assert numpy.array_equal(last.point, second)


def test_a_run_reports_the_average_of_the_iterates_its_callback_sees_and_the_same_iterates(digits):
    seen: list[numpy.ndarray] = []

    def keep(nlp, solver, stats):
        seen.append(numpy.array(stats.solution, dtype=numpy.float64))

    plain = solvers.adam(model(digits, "float64"), max_iter=25, **common())
    averaged = solvers.adam(model(digits, "float64"), max_iter=25, callback=keep, **common(average=0.9))
    assert plain.average is None and solvers.reported_point(plain) is plain.solution
    assert numpy.array_equal(averaged.solution, plain.solution)  # the method never sees the average
    assert len(seen) == 26  # x_0 and the 25 iterates
    numpy.testing.assert_allclose(averaged.average, weighted_mean(seen, 0.9), rtol=1e-12)
    assert solvers.reported_point(averaged) is averaged.average
    assert not numpy.allclose(averaged.average, averaged.solution)


def test_the_test_accuracy_of_the_history_is_measured_at_the_average(digits):
    options = common(eval_every=10, average=0.8)
    stats = solvers.adam(model(digits), max_iter=20, **options)
    nlp = model(digits)
    assert stats.history["accuracy"][-1] == nlp.accuracy(stats.average, "test")
    assert stats.history["accuracy"][-1] != nlp.accuracy(stats.solution, "test")


@pytest.mark.parametrize(("method", "options"), [("adam", {}), ("multibatch_lbfgs", {"mem": 5})])
def test_a_continued_run_ends_with_the_same_average_bit_for_bit(digits, method, options):
    options = common(average=0.95, **options)
    whole = solvers.minimize(model(digits), method, max_iter=30, **options)
    first = solvers.minimize(model(digits), method, max_iter=11, **options)
    assert first.state["average"]["count"] == 12
    second = solvers.minimize(
        model(digits), method, first.solution, max_iter=19, state=first.state, **options
    )
    assert numpy.array_equal(second.solution, whole.solution)
    assert numpy.array_equal(second.average, whole.average)
    assert second.state["average"]["count"] == whole.state["average"]["count"] == 31


def test_an_averaged_run_refuses_a_state_without_an_average_before_anything_runs(digits):
    first = solvers.adam(model(digits), max_iter=3, **common())
    nlp = model(digits)
    with pytest.raises(ValueError, match="average: the state has no 'average' mapping"):
        solvers.adam(nlp, first.solution, max_iter=3, state=first.state, **common(average=0.9))
    assert nlp.epoch == 0 and nlp.counters.neval_grad == 1  # the start only: the position is put back


@pytest.mark.parametrize(
    ("entry", "value", "message"), [("point", numpy.zeros(3), "'point'"), ("count", -1, "'count'")]
)
def test_a_state_whose_average_does_not_fit_is_refused_naming_the_entry(digits, entry, value, message):
    first = solvers.adam(model(digits), max_iter=3, **common(average=0.9))
    broken = {**first.state, "average": {**first.state["average"], entry: value}}
    with pytest.raises(ValueError, match=message):
        solvers.adam(model(digits), first.solution, max_iter=3, state=broken, **common(average=0.9))


@pytest.mark.parametrize("decay", [1.0, -0.1, float("nan"), "0.9"])
def test_a_decay_outside_zero_to_one_is_refused(digits, decay):
    with pytest.raises((TypeError, ValueError), match="average"):
        solvers.adam(model(digits), max_iter=3, **common(average=decay))


def test_train_reports_and_evaluate_reads_the_average(tmp_path, capsys):
    args = ["train", "--solver", "adam", "--epochs", "1", "--hidden", "16", "--progress", "0"]
    assert main([*args, "--option", "average=0.9", "--out", str(tmp_path / "run")]) == 0
    saved = checkpoints.load(tmp_path / "run" / checkpoints.NAME)
    average = saved.state["solver_state"]["average"]
    assert not numpy.array_equal(average["point"], saved.vector)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(tmp_path / "run" / checkpoints.NAME)]) == 0
    printed = capsys.readouterr().out
    assert f"the exponential average of {average['count']} iterates (decay 0.9)" in printed
    assert f"accuracy    {metrics['final']['test_accuracy']:.4f}" in printed
