"""The stochastic family: Knet.jl's update rules and defaults, clipping, one step per minibatch,
epoch budgets and per-epoch test accuracy."""

from __future__ import annotations

import inspect
import tracemalloc

import numpy
import pytest
from doubles import MinibatchLogistic, Quadratic
from minidnn.solvers import parameters

from minidnn import backend as backends
from minidnn import solvers

STOCHASTIC = solvers.STOCHASTIC

KNET_DEFAULTS = {
    "sgd": {"lr": 0.1},
    "momentum": {"lr": 0.05, "gamma": 0.95},
    "nesterov": {"lr": 0.05, "gamma": 0.95},
    "adagrad": {"lr": 0.05, "eps": 1e-6},
    "rmsprop": {"lr": 0.01, "rho": 0.9, "eps": 1e-6},
    "adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8},
}
KNET = tuple(KNET_DEFAULTS)
"""The stochastic solvers with Knet.jl's update rules."""


@pytest.mark.parametrize("method", KNET)
def test_defaults_are_knets(method: str) -> None:
    declared = parameters.defaults(solvers.METHODS[method].parameters)
    assert declared == {**KNET_DEFAULTS[method], "clip": None}
    signature = inspect.signature(getattr(solvers, method)).parameters
    assert all(signature[name].default == value for name, value in declared.items())


def reference_steps(method: str, grad, x: numpy.ndarray, steps: int, **p: float) -> numpy.ndarray:
    """Knet.jl's update formulas, written out independently of the solvers."""
    p = {**KNET_DEFAULTS[method], **p}
    v = numpy.zeros_like(x)
    m = numpy.zeros_like(x)
    for t in range(1, steps + 1):
        g = grad(x)
        if method == "sgd":
            x = x - p["lr"] * g
        elif method == "momentum":
            v = p["gamma"] * v - p["lr"] * g
            x = x + v
        elif method == "nesterov":
            x = x - p["gamma"] * v
            v = p["gamma"] * v - p["lr"] * g
            x = x + (1 + p["gamma"]) * v
        elif method == "adagrad":
            v = v + g**2
            x = x - p["lr"] * g / numpy.sqrt(v + p["eps"])
        elif method == "rmsprop":
            v = p["rho"] * v + (1 - p["rho"]) * g**2
            x = x - p["lr"] * g / numpy.sqrt(v + p["eps"])
        else:
            b1, b2 = p["betas"]
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g**2
            x = x - p["lr"] * (m / (1 - b1**t)) / (numpy.sqrt(v / (1 - b2**t)) + p["eps"])
    return x


@pytest.mark.parametrize("method", KNET)
def test_update_rules_match_knet(method: str) -> None:
    nlp = Quadratic((1.0, 3.0, 0.5))
    x0 = numpy.array([0.3, -0.2, 0.7])
    stats = solvers.minimize(nlp, method, x0=x0, max_iter=4, atol=0.0, rtol=0.0)
    expected = reference_steps(method, lambda x: nlp.grad(x), x0, 4)
    numpy.testing.assert_allclose(stats.solution, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", KNET)
def test_clipping_bounds_the_gradient_norm(method: str) -> None:
    nlp = Quadratic((10.0, 10.0))
    x0 = numpy.array([3.0, -4.0])

    def clipped(x):
        g = nlp.grad(x)
        return g * min(1.0, 0.5 / numpy.linalg.norm(g))

    stats = solvers.minimize(nlp, method, x0=x0, max_iter=3, clip=0.5, atol=0.0, rtol=0.0)
    numpy.testing.assert_allclose(stats.solution, reference_steps(method, clipped, x0, 3), rtol=1e-12)


def test_one_minibatch_per_step() -> None:
    nlp = MinibatchLogistic()
    stats = solvers.adam(nlp, max_iter=10)
    assert [e.version for e in nlp.log] == list(range(1, 12))
    assert all(e.kind == "objgrad" for e in nlp.log)
    assert stats.iter == 10 and nlp.batch_version == 11


@pytest.mark.parametrize("method", STOCHASTIC)
def test_epoch_budget_and_per_epoch_accuracy(method: str) -> None:
    nlp = MinibatchLogistic()
    per_epoch = nlp.batches_per_epoch
    stats = solvers.minimize(nlp, method, max_epochs=3)
    assert stats.status == "max_epochs" and stats.iter == 3 * per_epoch
    epochs = stats.history["epoch"]
    assert epochs == [k // per_epoch for k in range(stats.iter + 1)]
    measured = [k for k, a in enumerate(stats.history["accuracy"]) if a is not None]
    assert measured == [per_epoch, 2 * per_epoch, 3 * per_epoch]
    assert stats.solver_specific["accuracy"] == stats.history["accuracy"][-1]
    assert stats.solver_specific["epochs"] == 3 and stats.solver_specific["eval_time"] >= 0


@pytest.mark.parametrize("method", STOCHASTIC)
def test_training_the_double_reaches_a_good_test_accuracy(method: str) -> None:
    nlp = MinibatchLogistic(samples=400, batch_size=20, seed=1)
    lr = {"adam": 0.05, "rmsprop": 0.05}.get(method)
    options = {"lr": lr} if lr else {}
    stats = solvers.minimize(nlp, method, max_epochs=20, **options)
    accuracies = [a for a in stats.history["accuracy"] if a is not None]
    assert len(accuracies) == 20
    assert max(accuracies) >= 0.85
    assert stats.history["f"][-1] < stats.history["f"][0]


def test_eval_every_k_iterations_and_never() -> None:
    stats = solvers.sgd(MinibatchLogistic(), max_iter=9, eval_every=3)
    assert [k for k, a in enumerate(stats.history["accuracy"]) if a is not None] == [3, 6, 9]
    quiet = solvers.sgd(MinibatchLogistic(), max_epochs=2, eval_every=None)
    assert all(a is None for a in quiet.history["accuracy"]) and "accuracy" not in quiet.solver_specific


def test_no_accuracy_on_a_fixed_problem() -> None:
    stats = solvers.adam(Quadratic(), max_iter=5)
    assert all(a is None for a in stats.history["accuracy"])
    assert all(e is None for e in stats.history["epoch"])


@pytest.mark.parametrize("method", STOCHASTIC)
def test_stochastic_solvers_on_the_strict_backend_with_minibatches(method: str) -> None:
    nlp = MinibatchLogistic(backend="array-api-strict", dtype="float32")
    stats = solvers.minimize(nlp, method, max_epochs=1)
    assert backends.get("array-api-strict").owns(stats.solution)
    assert stats.status == "max_epochs" and stats.solver_specific["accuracy"] is not None


@pytest.mark.parametrize("clip", [None, 1e-3])
@pytest.mark.parametrize("method", KNET)
def test_a_step_allocates_nothing_as_large_as_x(method: str, clip: float | None, monkeypatch) -> None:
    """The rules work in place: the peak of the memory allocated during ``advance`` stays far below
    the size of one vector (NumPy reports its array buffers to tracemalloc)."""
    n = 200_000
    nlp = Quadratic(numpy.linspace(1.0, 2.0, n), dtype="float32")
    peaks = []
    solver_class = solvers.METHODS[method]
    advance = solver_class.advance

    def measured(self, x, g) -> None:
        tracemalloc.start()
        try:
            advance(self, x, g)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()

    monkeypatch.setattr(solver_class, "advance", measured)
    stats = solvers.minimize(nlp, method, max_iter=3, clip=clip, atol=0.0, rtol=0.0)
    assert stats.iter == 3 and len(peaks) == 3
    assert max(peaks) < 4 * n // 10, f"{method} allocated {max(peaks)} bytes in a step (x: {4 * n})"
