"""The norm test's batch policy: the grouped variance estimate against per-sample gradients (float64),
growth when gradient noise dominates and none when it does not, the training-set cap, epochs counted
by samples, exact resume, clear errors, the command line, and convergence (iteration budgets)."""

from __future__ import annotations

import json
import math

import numpy
import pytest
from minidnn.nlpmodels import NeuralNetModel
from minidnn.nlpmodels.problems import rosenbrock
from minidnn.solvers.adaptive_sampling import NormTest, SamplingParameters

from minidnn import datasets, models, solvers
from minidnn.cli import main

DIGITS = datasets.load("digits", "train")
DIGITS_TEST = datasets.load("digits", "test")


def subset(count: int, *, same: bool = False) -> datasets.Dataset:
    """The first ``count`` training digits, or ``count`` copies of the first one (no gradient noise)."""
    rows = numpy.zeros(count, dtype=int) if same else numpy.arange(count)
    return datasets.from_arrays(DIGITS.x[rows], DIGITS.y[rows], classes=DIGITS.classes)


def model(train: datasets.Dataset = DIGITS, *, batch_size: int = 16, dtype: str = "float32", l2: float = 0.0):
    network = models.mlp((64, 16, 10), seed=0)
    return NeuralNetModel(network, train, DIGITS_TEST, batch_size=batch_size, dtype=dtype, l2=l2)


def norm_test(nlp, **params) -> NormTest:
    return NormTest(nlp, SamplingParameters(batch_policy="norm_test", **params))


def per_sample_gradients(nlp, x) -> numpy.ndarray:
    m = nlp.batch_samples
    return numpy.stack([nlp.objgrad_samples(x, i, i + 1)[1] for i in range(m)])


# -- the estimator -------------------------------------------------------------------------------------------
def test_one_sample_per_group_gives_the_exact_sample_variance_and_the_batch_gradient():
    nlp = model(dtype="float64", batch_size=12, l2=1e-2)
    x = nlp.meta.x0
    grads = per_sample_gradients(nlp, x)
    mean = grads.mean(axis=0)
    exact = ((grads - mean) ** 2).sum() / (len(grads) - 1)
    f, g, variance = norm_test(nlp, test_groups=12).grouped_objgrad(x)
    f_batch, g_batch = nlp.objgrad(x)
    assert variance == pytest.approx(exact, rel=1e-10)
    assert f == pytest.approx(f_batch, rel=1e-12)
    numpy.testing.assert_allclose(g, g_batch, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("groups", [2, 5, 7])
def test_k_groups_give_the_between_group_estimate_of_the_per_sample_variance(groups):
    nlp = model(dtype="float64", batch_size=19)
    x = nlp.meta.x0
    grads = per_sample_gradients(nlp, x)
    m = len(grads)
    bounds = [k * m // groups for k in range(groups + 1)]
    sizes = numpy.diff(bounds)
    means = numpy.stack([grads[lo:hi].mean(axis=0) for lo, hi in zip(bounds, bounds[1:])])
    expected = (sizes[:, None] * (means - grads.mean(axis=0)) ** 2).sum() / (groups - 1)
    _, g, variance = norm_test(nlp, test_groups=groups).grouped_objgrad(x)
    assert variance == pytest.approx(expected, rel=1e-10)
    numpy.testing.assert_allclose(g, grads.mean(axis=0), rtol=1e-10, atol=1e-14)


def test_the_grouped_estimate_is_unbiased_over_batches():
    """Averaged over the batches of a few epochs, 4 groups estimate the per-sample variance."""
    nlp = model(subset(240), dtype="float64", batch_size=24)
    x = nlp.meta.x0 + 0.05 * numpy.random.default_rng(0).standard_normal(nlp.meta.nvar)
    policy = norm_test(nlp, test_groups=4)
    estimates, exact = [], []
    for _ in range(3 * nlp.batches_per_epoch):
        grads = per_sample_gradients(nlp, x)
        exact.append(((grads - grads.mean(axis=0)) ** 2).sum() / (len(grads) - 1))
        estimates.append(policy.grouped_objgrad(x)[2])
        nlp.next_minibatch()
    assert numpy.mean(estimates) == pytest.approx(numpy.mean(exact), rel=0.25)


def test_a_test_evaluation_counts_each_group_and_replaces_the_batch_evaluation():
    nlp = model(batch_size=16)
    policy = norm_test(nlp, test_groups=4)
    before = nlp.counters.as_dict()
    policy.objgrad(nlp.meta.x0)
    after = nlp.counters.as_dict()
    assert after["neval_obj"] - before["neval_obj"] == 4 and after["neval_grad"] - before["neval_grad"] == 4
    assert policy.tests == 1 and policy.samples == 16


# -- the test's decision -----------------------------------------------------------------------------------
def test_the_next_size_is_the_one_the_variance_would_pass_with_capped_by_the_training_set():
    nlp = model(subset(100), batch_size=10)
    policy = norm_test(nlp, theta=0.5)
    g = numpy.full(nlp.meta.nvar, 0.01, dtype="float32")
    g2 = float(g @ g)
    policy.test(g, 0.25 * g2 * 10 * 0.99, 10)  # σ̂²/m just below θ²‖g‖²: adequate
    assert policy.target == 10
    policy.test(g, 0.25 * g2 * 30.5, 10)
    assert policy.target == 31 and policy.failed == 1
    policy.test(g, 0.25 * g2 * 1e6, 10)
    assert policy.target == 100
    policy.test(numpy.zeros_like(g), 1.0, 10)
    assert policy.target == 100


def test_the_batch_grows_where_gradient_noise_dominates():
    nlp = model(batch_size=8)
    stats = solvers.lbfgs(nlp, batch_policy="norm_test", resample="iteration", max_iter=40, atol=0, rtol=0)
    sizes = stats.history["batch"]
    assert sizes[0] == 8 and sizes[-1] > 8 and nlp.batch_size == sizes[-1]
    assert all(later >= earlier for earlier, later in zip(sizes, sizes[1:]))
    assert stats.solver_specific["norm_tests_failed"] >= 1


def test_the_batch_stays_put_without_gradient_noise():
    nlp = model(subset(64, same=True), batch_size=8)
    stats = solvers.lbfgs(nlp, batch_policy="norm_test", resample="iteration", max_iter=20, atol=0, rtol=0)
    assert set(stats.history["batch"]) == {8}
    assert (
        stats.solver_specific["norm_tests"] == stats.iter and stats.solver_specific["norm_tests_failed"] == 0
    )


def test_the_batch_never_exceeds_the_training_set_and_tests_stop_there():
    nlp = model(subset(40), batch_size=8)
    stats = solvers.r2(
        nlp, batch_policy="norm_test", theta=0.05, resample="iteration", max_iter=30, atol=0, rtol=0
    )
    assert max(stats.history["batch"]) == 40 and nlp.batch_size == 40
    assert stats.solver_specific["norm_tests"] < stats.iter


def test_the_fixed_policy_adds_no_column_and_takes_no_group_evaluations():
    nlp = model(batch_size=16)
    stats = solvers.lbfgs(nlp, resample="iteration", max_iter=5)
    assert "batch" not in stats.history.columns and "norm_tests" not in stats.solver_specific
    assert stats.counters["neval_obj"] == stats.counters["neval_grad"]


def test_test_every_spaces_the_tests_over_new_batches():
    nlp = model(subset(64, same=True), batch_size=8)
    stats = solvers.lbfgs(
        nlp, batch_policy="norm_test", test_every=3, resample="iteration", max_iter=9, atol=0, rtol=0
    )
    assert stats.solver_specific["norm_tests"] == 3  # new batches 1, 4, 7 of the 9 evaluated


# -- epochs --------------------------------------------------------------------------------------------------
def test_epochs_count_every_sample_drawn_and_max_epochs_stops_on_them():
    n = 160
    nlp = model(subset(n), batch_size=8)
    stats = solvers.lbfgs(
        nlp, batch_policy="norm_test", theta=0.3, resample="iteration", max_epochs=2, atol=0, rtol=0
    )
    assert stats.status == "max_epochs"
    samples = stats.history["samples"][-1]
    epochs = stats.solver_specific["epochs"]
    assert epochs == pytest.approx(samples / n) and epochs >= 2
    assert epochs > nlp.epoch  # the epoch index alone misses the samples drawn again after restarts


def test_a_fixed_batch_counts_epochs_as_before():
    nlp = model(subset(160), batch_size=8)
    stats = solvers.lbfgs(nlp, resample="iteration", max_epochs=1, atol=0, rtol=0)
    assert stats.solver_specific["epochs"] == 1 and stats.iter == 20


# -- exact resume --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "options", "stop", "saved"),
    [  # saved: the state's (evaluated, grouped), how the start of the continued run evaluates
        ("lbfgs", {"resample": "iteration"}, 11, (False, False)),
        ("lbfgs", {"resample": 2}, 11, (True, False)),
        (
            "hessian_free",
            {"resample": "iteration", "test_every": 2},
            11,
            (True, False),
        ),  # evaluated after the move
        ("r2", {"resample": 2, "test_every": 3}, 13, (True, True)),  # a rejected step: g from the groups
        ("lsr1", {"resample": "iteration", "cg_max_iter": 5}, 11, (False, False)),
        ("trunk", {"resample": 2, "cg_max_iter": 5}, 11, (True, False)),
    ],
)
def test_a_resumed_run_equals_an_uninterrupted_one(method, options, stop, saved):
    common = dict(batch_policy="norm_test", theta=0.5, atol=0, rtol=0, **options)
    whole = solvers.minimize(model(subset(200), batch_size=8), method, max_iter=24, **common)
    assert whole.solver_specific["norm_tests_failed"] >= 1
    first = solvers.minimize(model(subset(200), batch_size=8), method, max_iter=stop, **common)
    assert (first.state["sampling"]["evaluated"], first.state["sampling"]["grouped"]) == saved
    assert first.state["sampling"]["batch_size"] > 8
    fresh = model(subset(200), batch_size=8)  # as a checkpoint's model: the batch size it started with
    rest = solvers.minimize(fresh, method, first.solution, max_iter=24 - stop, state=first.state, **common)
    numpy.testing.assert_array_equal(rest.solution, whole.solution)
    assert first.history["batch"] + rest.history["batch"][1:] == whole.history["batch"]
    assert first.history["f"] + rest.history["f"][1:] == whole.history["f"]


def test_a_state_of_the_other_policy_is_refused():
    nlp = model(batch_size=8)
    fixed = solvers.lbfgs(nlp, resample="iteration", max_iter=2)
    with pytest.raises(solvers.StateError, match="batch policy"):
        solvers.lbfgs(
            nlp, fixed.solution, batch_policy="norm_test", resample="iteration", max_iter=2, state=fixed.state
        )
    grown = solvers.lbfgs(nlp, batch_policy="norm_test", resample="iteration", max_iter=2)
    with pytest.raises(solvers.StateError, match="batch_policy is 'fixed'"):
        solvers.lbfgs(nlp, grown.solution, resample="iteration", max_iter=2, state=grown.state)
    broken = {**grown.state, "sampling": {**grown.state["sampling"], "target": 10**9}}
    with pytest.raises(solvers.StateError, match="'target'"):
        solvers.lbfgs(
            nlp, grown.solution, batch_policy="norm_test", resample="iteration", max_iter=2, state=broken
        )


def test_a_batch_position_that_does_not_fit_leaves_the_batch_size_as_it_was():
    grown = solvers.lbfgs(
        model(batch_size=8), batch_policy="norm_test", theta=0.2, resample="iteration", max_iter=4
    )
    assert grown.state["sampling"]["batch_size"] > 8
    position = grown.state["batches"]["minibatches"]
    broken = {
        **grown.state,
        "batches": {**grown.state["batches"], "minibatches": {**position, "batch": 10**6}},
    }
    nlp = model(batch_size=8)
    with pytest.raises(solvers.StateError, match="batch position"):
        solvers.lbfgs(
            nlp, grown.solution, batch_policy="norm_test", resample="iteration", max_iter=2, state=broken
        )
    assert nlp.batch_size == 8 and nlp.batch_state() == model(batch_size=8).batch_state()


# -- errors --------------------------------------------------------------------------------------------------
def test_norm_test_needs_samples_and_resample():
    with pytest.raises(ValueError, match="norm_test' needs a minibatch model"):
        solvers.lbfgs(rosenbrock(), batch_policy="norm_test", resample=None)
    with pytest.raises(ValueError, match="needs resample"):
        solvers.lbfgs(model(), batch_policy="norm_test")
    with pytest.raises(ValueError, match="theta must be a number in"):
        solvers.lbfgs(model(), batch_policy="norm_test", theta=1.5, resample="iteration")
    with pytest.raises(TypeError, match="unknown option"):
        solvers.adam(model(), batch_policy="norm_test")


# -- the log and the command line -------------------------------------------------------------------------
def test_the_iteration_table_shows_the_batch_size(capsys):
    solvers.r2(model(batch_size=8), batch_policy="norm_test", resample="iteration", max_iter=3, verbose=1)
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header[-2:] == ["batch", "samples"]


def test_the_command_line_takes_the_policy_and_resumes_a_grown_batch_exactly(tmp_path, capsys):
    def train(out: str, *flags: str) -> dict:
        assert main(["train", *flags, "--max-iter", "12", "--epochs", "0", "--out", str(tmp_path / out)]) == 0
        return json.loads((tmp_path / out / "metrics.json").read_text())

    policy = ["--solver", "lbfgs", "--batch-size", "16", "--batch-policy", "norm_test", "--test-groups", "4"]
    whole = train("whole", *policy)
    assert whole["settings"]["options"]["batch_policy"] == "norm_test"
    assert max(whole["history"]["batch"]) > 16
    assert main(["train", *policy, "--max-iter", "5", "--epochs", "0", "--out", str(tmp_path / "part")]) == 0
    resumed = train("rest", "--resume", str(tmp_path / "part" / "checkpoint.npz"))
    assert resumed["history"]["batch"] == whole["history"]["batch"]
    assert resumed["history"]["f"] == whole["history"]["f"]


# -- convergence ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "options", "iterations", "accuracy"),
    [
        ("lbfgs", {}, 40, 0.8),
        ("r2", {}, 60, 0.8),
        ("hessian_free", {}, 25, 0.8),
        ("trunk", {"cg_max_iter": 10}, 30, 0.5),
    ],
)
def test_a_solver_with_the_norm_test_trains_a_network(method, options, iterations, accuracy):
    nlp = model(batch_size=16)
    loss0 = nlp.evaluate(nlp.meta.x0, "train")[0]
    stats = solvers.minimize(
        nlp,
        method,
        batch_policy="norm_test",
        resample="iteration",
        max_iter=iterations,
        atol=0,
        rtol=0,
        **options,
    )
    assert math.isfinite(stats.objective) and nlp.accuracy(stats.solution) > accuracy
    assert nlp.evaluate(stats.solution, "train")[0] < 0.5 * loss0
