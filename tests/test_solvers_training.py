"""Training real networks with every solver.

On the shipped digits (1,442 train / 355 test images), a small MLP reaches at least 95% test
accuracy with every solver: the stochastic ones within 20 epochs (Knet's default hyperparameters,
batches of 32), the deterministic ones on the full batch within 300 iterations. On real MNIST,
LeNet-5 with Adam reaches at least 98% test accuracy in 3 epochs (skipped without the data). Every
budget is in epochs or iterations, none in seconds: a slower machine takes longer, never fails.
"""

from __future__ import annotations

import pytest
from minidnn.nlpmodels import NeuralNetModel

from minidnn import datasets, models, solvers

STOCHASTIC = solvers.STOCHASTIC
DETERMINISTIC = {"r2": {}, "lbfgs": {}, "trunk": {"cg_max_iter": 20}, "lsr1": {}}
MAX_ITER = 300
"""Iterations of a deterministic solver on the full batch (R2, the slowest, passes 95% near 60;
lbfgs, trunk and lsr1 stop at a first-order point within 160)."""


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits"), datasets.load("digits", split="test")


@pytest.mark.parametrize("method", STOCHASTIC)
def test_stochastic_solvers_reach_95_percent_on_digits_within_20_epochs(digits, method):
    nlp = NeuralNetModel(models.mlp([64, 64, 10], seed=0), *digits, batch_size=32)
    stats = solvers.minimize(nlp, method, max_epochs=20, max_time=None)
    assert stats.status in ("max_epochs", "first_order") and stats.solver_specific["epochs"] <= 20
    assert stats.solver_specific["accuracy"] == nlp.accuracy(stats.solution) >= 0.95
    per_epoch = [a for a in stats.history["accuracy"] if a is not None]
    assert len(per_epoch) >= stats.solver_specific["epochs"]


@pytest.mark.parametrize("method", DETERMINISTIC)
def test_deterministic_solvers_reach_95_percent_on_digits_within_300_iterations(digits, method):
    nlp = NeuralNetModel(models.mlp([64, 64, 10], seed=0), *digits, full_batch=True)
    stats = solvers.minimize(nlp, method, max_iter=MAX_ITER, max_time=None, **DETERMINISTIC[method])
    assert stats.status in ("first_order", "max_iter") and stats.iter <= MAX_ITER
    assert nlp.accuracy(stats.solution) >= 0.95


def test_trunk_with_exact_hessian_products_uses_them(digits):
    nlp = NeuralNetModel(models.mlp([64, 16, 10], seed=1), *digits, full_batch=True)
    stats = solvers.trunk(nlp, max_iter=5, cg_max_iter=10)
    assert stats.counters["neval_hprod"] > stats.iter


def test_lenet5_with_adam_reaches_98_percent_on_mnist_in_3_epochs(real_data):
    root = real_data("mnist")
    train = datasets.load("mnist", root=root, download=False)
    test = datasets.load("mnist", split="test", root=root, download=False)
    nlp = NeuralNetModel(models.lenet5(seed=0), train, test, batch_size=100)
    stats = solvers.adam(nlp, max_epochs=3, max_time=None)
    assert stats.status == "max_epochs"
    assert nlp.accuracy(stats.solution) >= 0.98


@pytest.mark.parametrize("method", ["adam", "lbfgs", "lsr1"])
def test_a_model_without_test_data_skips_the_per_epoch_evaluation(method: str) -> None:
    train = datasets.load("digits", "train")
    nlp = NeuralNetModel(models.mlp((64, 16, 10), seed=0), train, None, batch_size=256)
    walk = {} if method == "adam" else {"resample": "iteration"}
    stats = solvers.minimize(nlp, method, max_epochs=1, **walk)
    assert stats.status == "max_epochs"
    assert set(stats.history["accuracy"]) == {None} and "accuracy" not in stats.solver_specific
    with pytest.raises(ValueError, match="test data"):
        solvers.minimize(nlp, method, max_epochs=1, eval_every=2)
