"""multibatch_lbfgs: curvature pairs from the overlap only (checked against gradients computed apart),
one step per minibatch, its cost per step, a classic problem, and a network on digits (epoch budget)."""

from __future__ import annotations

import numpy
import pytest
from minidnn.datasets import Dataset
from minidnn.nlpmodels import NeuralNetModel
from minidnn.nlpmodels.problems import rosenbrock
from probes import offered_pairs

from minidnn import datasets, models, solvers


def synthetic(n: int = 24, seed: int = 0) -> Dataset:
    rng = numpy.random.default_rng(seed)
    x = rng.random((n, 1, 3, 3), dtype=numpy.float32)
    y = rng.integers(0, 3, n).astype(numpy.int64)
    return Dataset(x, y, ("0", "1", "2"), "synthetic", "train")


def net():
    return models.mlp([9, 4, 3], activation="tanh", seed=0)


@pytest.mark.parametrize(("overlap", "size"), [(0.25, 2), (1.0, 8)])  # 1: the gradient of the first trial
def test_each_pair_is_the_gradient_change_on_the_overlap_of_its_batch(monkeypatch, overlap, size):
    pushed = offered_pairs(monkeypatch)
    data = synthetic()
    nlp = NeuralNetModel(net(), data, batch_size=8, shuffle=False, dtype="float64", l2=0.01)
    points = []
    options = {"overlap": overlap, "pair_rule": "skip", "atol": 0, "rtol": 0, "eval_every": None}
    record = lambda n, s, st: points.append(s.x.copy())  # noqa: E731
    stats = solvers.multibatch_lbfgs(nlp, max_iter=2, callback=record, **options)
    assert stats.iter == 2 and len(pushed) == 2
    for k, (s, y) in enumerate(pushed):
        start = 8 * k + 8 - size  # the last ⌈overlap · 8⌉ samples of batch k
        rows = Dataset(data.x[start : start + size], data.y[start : start + size], data.classes, "o", "train")
        alone = NeuralNetModel(net(), rows, batch_size=size, full_batch=True, dtype="float64", l2=0.01)
        numpy.testing.assert_allclose(s, points[k + 1] - points[k], rtol=1e-12, atol=1e-15)
        expected = alone.grad(points[k + 1]) - alone.grad(points[k])
        numpy.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-13)


def test_one_step_per_minibatch_at_the_cost_of_one_batch_gradient_and_the_overlap():
    nlp = NeuralNetModel(net(), synthetic(), batch_size=8, dtype="float64")
    options = {"overlap": 0.25, "line_search": "armijo", "atol": 0, "rtol": 0, "eval_every": None}
    stats = solvers.multibatch_lbfgs(nlp, max_iter=6, **options)
    assert nlp.batch_version == stats.iter == 6
    # each batch in two parts (rest and overlap), then the overlap again at the new point
    assert stats.counters["neval_grad"] == 2 + 3 * stats.iter
    assert stats.history["step"][1:] and all(t > 0 for t in stats.history["step"][1:])
    whole = solvers.multibatch_lbfgs(NeuralNetModel(net(), synthetic(), batch_size=8), max_iter=6)
    assert whole.counters["neval_grad"] == 1 + 2 * whole.iter  # overlap 1: the batch at x_k, then at x_{k+1}


def test_with_constant_steps_the_gradient_joins_the_previous_overlap_to_the_new_batch():
    data = synthetic()
    nlp = NeuralNetModel(net(), data, batch_size=8, shuffle=False, dtype="float64")
    seen = []
    record = lambda n, s, st: seen.append((s.x.copy(), s.g.copy(), s.f))  # noqa: E731
    options = {"overlap": 0.25, "line_search": "fixed", "atol": 0, "rtol": 0, "eval_every": None}
    solvers.multibatch_lbfgs(nlp, max_iter=2, callback=record, **options)

    def part(start, stop):
        rows = Dataset(data.x[start:stop], data.y[start:stop], data.classes, "part", "train")
        return NeuralNetModel(net(), rows, batch_size=stop - start, full_batch=True, dtype="float64")

    for k in (1, 2):  # S_k = O_{k-1} (last 2 samples of batch k-1) and batch k: 2 + 8 samples
        x, g, f = seen[k]
        overlap, batch = part(8 * k - 2, 8 * k), part(8 * k, 8 * k + 8)
        expected = (2 * overlap.grad(x) + 8 * batch.grad(x)) / 10
        numpy.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-14)
        assert f == pytest.approx((2 * overlap.obj(x) + 8 * batch.obj(x)) / 10, rel=1e-12)


def test_a_fixed_steplength_evaluates_no_objective_beyond_the_gradients():
    nlp = NeuralNetModel(net(), synthetic(), batch_size=8, dtype="float64")
    stats = solvers.multibatch_lbfgs(nlp, max_iter=6, line_search="fixed", lr=0.5, atol=0, rtol=0)
    assert stats.counters["neval_obj"] == stats.counters["neval_grad"]
    assert stats.history["step"][1:] == [0.5] * 6


def test_the_first_armijo_trial_gives_the_pair_its_gradient_and_backtracks_cost_objectives_only():
    nlp = NeuralNetModel(net(), synthetic(), batch_size=8, dtype="float64")
    stats = solvers.multibatch_lbfgs(nlp, max_iter=12, atol=0, rtol=0, lr=4.0, eval_every=None)
    backtracked = sum(bk > 0 for bk in stats.history["bk"][1:])
    assert 0 < backtracked < stats.iter and stats.solver_specific["pairs"] == stats.iter
    # the start; per step the first trial and the next batch, and the overlap where the trial was refused
    assert stats.counters["neval_grad"] == 1 + 2 * stats.iter + backtracked
    assert stats.counters["neval_obj"] == stats.counters["neval_grad"] + sum(stats.history["bk"][1:])
    assert stats.counters["neval_obj"] > stats.counters["neval_grad"]


def test_on_a_fixed_problem_it_is_lbfgs_with_armijo_backtracking():
    stats = solvers.multibatch_lbfgs(rosenbrock(), atol=1e-6, rtol=0, max_iter=500, max_time=None)
    assert stats.status == "first_order", stats.message
    assert stats.solver_specific["pairs"] > 10


def test_powell_damping_keeps_every_pair_with_positive_curvature(monkeypatch):
    pushed = offered_pairs(monkeypatch)
    stats = solvers.multibatch_lbfgs(rosenbrock(), atol=0, rtol=0, max_iter=30, max_time=None)
    assert stats.solver_specific["pairs"] == len(pushed) == stats.iter
    assert min(float(s @ y) / float(numpy.linalg.norm(s) * numpy.linalg.norm(y)) for s, y in pushed) > 0.19
    skipping = solvers.multibatch_lbfgs(rosenbrock(), pair_rule="skip", atol=0, rtol=0, max_iter=30)
    assert skipping.solver_specific["skipped_pairs"] > 0 and skipping.objective > stats.objective


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="multibatch_lbfgs: overlap must be"):
        solvers.multibatch_lbfgs(rosenbrock(), overlap=0.0)
    with pytest.raises(TypeError, match="unknown option.*resample"):
        solvers.multibatch_lbfgs(rosenbrock(), resample="iteration")


def test_multibatch_lbfgs_trains_a_network_on_digits():
    train, test = datasets.load("digits"), datasets.load("digits", split="test")
    nlp = NeuralNetModel(models.mlp([64, 64, 10], seed=0), train, test, batch_size=64)
    stats = solvers.multibatch_lbfgs(nlp, max_epochs=5, max_time=None)
    assert stats.status == "max_epochs"
    assert stats.solver_specific["accuracy"] >= 0.93
    assert stats.solver_specific["pairs"] >= 0.9 * stats.iter


@pytest.mark.parametrize("curvature", ["gauss_newton", "hessian"])
def test_pairs_from_products_are_the_curvature_of_the_next_batch_at_the_new_point(monkeypatch, curvature):
    pushed = offered_pairs(monkeypatch)
    data = synthetic()
    nlp = NeuralNetModel(net(), data, batch_size=8, shuffle=False, dtype="float64", l2=0.01)
    points = []
    options = {"curvature": curvature, "curvature_fraction": 0.5, "pair_rule": "skip", "atol": 0, "rtol": 0}
    record = lambda n, s, st: points.append(s.x.copy())  # noqa: E731
    stats = solvers.multibatch_lbfgs(nlp, max_iter=2, callback=record, eval_every=None, **options)
    assert stats.iter == 2 and len(pushed) == 2
    for k, (s, y) in enumerate(pushed):
        start = 8 * (k + 1)  # the first ⌈0.5 · 8⌉ = 4 samples of the next batch
        sample = Dataset(data.x[start : start + 4], data.y[start : start + 4], data.classes, "s", "train")
        alone = NeuralNetModel(net(), sample, batch_size=4, full_batch=True, dtype="float64", l2=0.01)
        numpy.testing.assert_allclose(s, points[k + 1] - points[k], rtol=1e-12, atol=1e-15)
        product = alone.ghprod if curvature == "gauss_newton" else alone.hprod
        numpy.testing.assert_allclose(y, product(points[k + 1], s), rtol=1e-10, atol=1e-13)
    assert stats.counters["neval_grad"] == 1 + stats.iter  # no overlap evaluated
    counted = "neval_ghprod" if curvature == "gauss_newton" else "neval_hprod"
    assert stats.counters[counted] == stats.iter


def test_gauss_newton_pairs_need_a_model_with_ghprod_and_train_a_network():
    with pytest.raises(ValueError, match="multibatch_lbfgs: .* has no Gauss-Newton product"):
        solvers.multibatch_lbfgs(rosenbrock(), curvature="gauss_newton")
    assert (
        solvers.multibatch_lbfgs(rosenbrock(), curvature="hessian", atol=1e-6, rtol=0).status == "first_order"
    )
    train, test = datasets.load("digits"), datasets.load("digits", split="test")
    nlp = NeuralNetModel(models.mlp([64, 64, 10], seed=0), train, test, batch_size=64)
    stats = solvers.multibatch_lbfgs(nlp, max_epochs=5, max_time=None, curvature="gauss_newton")
    assert stats.status == "max_epochs" and stats.solver_specific["accuracy"] >= 0.93


def test_a_run_with_a_carried_overlap_continues_exactly_from_its_state():
    options = {"line_search": "fixed", "lr": 0.5, "overlap": 0.25, "atol": 0, "rtol": 0, "eval_every": None}
    model = lambda: NeuralNetModel(net(), synthetic(), batch_size=8, dtype="float64")  # noqa: E731
    whole = solvers.multibatch_lbfgs(model(), max_iter=7, **options)
    first = solvers.multibatch_lbfgs(model(), max_iter=3, **options)
    assert first.state["solver"]["carried_g"] is not None and first.state["solver"]["memory"]["count"] == 3
    second = solvers.multibatch_lbfgs(model(), first.solution, max_iter=4, state=first.state, **options)
    assert numpy.array_equal(second.solution, whole.solution)
    first.state["solver"]["carried_f"] = float("nan")
    with pytest.raises(ValueError, match="multibatch_lbfgs: the state's 'carried_f' must be a finite number"):
        solvers.multibatch_lbfgs(model(), first.solution, max_iter=4, state=first.state, **options)
