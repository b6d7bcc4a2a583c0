"""hessian_free: its CG (Martens' stopping test and kept iterates), first-order points on the classic
problems with Hessian products, a clear error without Gauss-Newton products, and a network on digits
with sub-sampled Gauss-Newton products (iteration budgets, not seconds)."""

from __future__ import annotations

import math

import numpy
import pytest
from doubles import Poisoned
from minidnn.nlpmodels import NeuralNetModel
from minidnn.nlpmodels.problems import CLASSIC, rosenbrock
from minidnn.solvers.hessian_free import HessianFreeParameters, martens_cg
from minidnn.solvers.squared_gradient_preconditioner import SquaredGradientPreconditioner

from minidnn import backend as backends
from minidnn import datasets, models, solvers

NUMPY = backends.get("numpy")


def spd(n: int, seed: int) -> numpy.ndarray:
    a = numpy.random.default_rng(seed).standard_normal((n, n))
    return a @ a.T + n * numpy.eye(n)


def test_martens_cg_solves_a_positive_definite_system_and_keeps_iterates_at_powers_of_1_3():
    b, g = spd(30, 0), numpy.random.default_rng(1).standard_normal(30)
    run = martens_cg(NUMPY, lambda v: b @ v, g, None, max_iter=200, epsilon=1e-12)
    numpy.testing.assert_allclose(b @ run.solution, -g, atol=1e-8)
    assert run.value == pytest.approx(g @ run.solution + 0.5 * run.solution @ b @ run.solution, rel=1e-10)
    kept = [i for i, _, _ in run.kept]
    assert kept == sorted(set(kept)) and kept[:4] == [1, 2, 3, 4] and kept[-1] == run.iterations
    assert all(math.ceil(1.3**m) <= i for m, i in enumerate(kept[:-1]))
    values = [value for _, _, value in run.kept]
    assert all(later <= earlier for earlier, later in zip(values, values[1:]))


def test_martens_cg_stops_on_relative_progress_and_warm_starts():
    b, g = spd(200, 2), numpy.random.default_rng(3).standard_normal(200)
    loose = martens_cg(NUMPY, lambda v: b @ v, g, None, max_iter=200, epsilon=5e-4)
    assert loose.exit == "progress" and 10 < loose.iterations < 200
    warm = martens_cg(NUMPY, lambda v: b @ v, g, loose.solution, max_iter=200, epsilon=5e-4)
    assert warm.value <= loose.value
    assert warm.exit == "progress" and warm.iterations <= loose.iterations


def test_preconditioned_cg_solves_in_one_step_when_m_is_the_diagonal_matrix_itself():
    diagonal, g = numpy.linspace(1.0, 1e4, 50), numpy.random.default_rng(4).standard_normal(50)
    solve = lambda **kw: martens_cg(NUMPY, lambda v: diagonal * v, g, None, max_iter=1, epsilon=1e-12, **kw)  # noqa: E731
    exact, plain = solve(precondition=lambda v: v / diagonal), solve()
    numpy.testing.assert_allclose(exact.solution, -g / diagonal, rtol=1e-12)
    assert exact.value == pytest.approx(-0.5 * g @ (g / diagonal), rel=1e-12) and exact.value < plain.value


def test_preconditioned_cg_reaches_the_same_solution_on_a_general_system():
    b, g = spd(40, 5), numpy.random.default_rng(6).standard_normal(40)
    scale = numpy.random.default_rng(7).uniform(0.5, 2.0, 40)
    run = martens_cg(
        NUMPY, lambda v: b @ v, g, None, max_iter=200, epsilon=1e-14, precondition=lambda v: v / scale
    )
    numpy.testing.assert_allclose(b @ run.solution, -g, atol=1e-8)
    assert run.value == pytest.approx(g @ run.solution + 0.5 * run.solution @ b @ run.solution, rel=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_squared_gradient_preconditioner_averages_m_g_squared_and_returns_the_damped_power(dtype):
    rng = numpy.random.default_rng(8)
    first, second = (rng.standard_normal(20).astype(dtype) for _ in range(2))
    preconditioner = SquaredGradientPreconditioner(NUMPY, decay=0.9, power=0.75)
    preconditioner.observe(first, 100)
    numpy.testing.assert_allclose(preconditioner.state(), 100 * first**2, rtol=1e-6)
    preconditioner.observe(second, 50)
    expected = 0.9 * 100 * first.astype(float) ** 2 + 0.1 * 50 * second.astype(float) ** 2
    numpy.testing.assert_allclose(preconditioner.state(), expected, rtol=1e-5)
    inverse = preconditioner.inverse(0.5)
    assert inverse.dtype == dtype and preconditioner.state().dtype == dtype
    numpy.testing.assert_allclose(inverse, (expected + 0.5) ** -0.75, rtol=1e-5)


def test_hessian_free_keeps_its_preconditioner_in_its_state_and_refuses_a_bad_one(digits):
    def run(x0=None, **options):
        nlp = NeuralNetModel(models.mlp([64, 16, 10], seed=2), *digits, batch_size=50)
        return solvers.hessian_free(nlp, x0, max_iter=3, atol=0, rtol=0, eval_every=None, **options)

    stats = run(preconditioner="squared_gradients")
    assert not numpy.array_equal(stats.solution, run().solution)
    second = stats.state["solver"]["second_moment"]
    assert second.shape == stats.solution.shape and second.dtype == numpy.float32 and bool((second > 0).any())
    stats.state["solver"]["second_moment"] = -second
    with pytest.raises(ValueError, match="hessian_free: the state's 'second_moment' has negative entries"):
        run(stats.solution, state=stats.state, preconditioner="squared_gradients")
    stats.state["solver"]["second_moment"] = second
    with pytest.raises(
        ValueError, match="has a preconditioner's 'second_moment' and preconditioner='identity'"
    ):
        run(stats.solution, state=stats.state, preconditioner="identity")


@pytest.mark.parametrize("name", list(CLASSIC))
def test_hessian_free_with_hessian_products_reaches_first_order_on_classic_problems(name):
    stats = solvers.minimize(
        CLASSIC[name](),
        "hessian_free",
        curvature="hessian",
        atol=1e-6,
        rtol=0.0,
        max_iter=2000,
        max_time=None,
    )
    assert stats.status == "first_order", stats.message
    assert stats.counters["neval_hprod"] > stats.iter and stats.counters["neval_ghprod"] == 0


def test_gauss_newton_curvature_needs_a_model_with_ghprod():
    with pytest.raises(ValueError, match="has no Gauss-Newton product.*curvature='hessian'"):
        solvers.hessian_free(rosenbrock())


def test_parameters_are_checked_before_anything_is_evaluated():
    nlp = rosenbrock()
    for option in ({"curvature": "newton"}, {"curvature_fraction": 0.0}, {"decay": 1.0}):
        with pytest.raises(ValueError, match="hessian_free: "):
            solvers.hessian_free(nlp, **option)
    assert nlp.counters.neval_obj == 0
    assert HessianFreeParameters().decay == 0.95 and "Martens 2010" in HessianFreeParameters.__doc__


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits"), datasets.load("digits", split="test")


@pytest.mark.parametrize("preconditioner", ["identity", "squared_gradients"])
def test_hessian_free_trains_a_network_on_digits_with_sub_sampled_gauss_newton_products(
    digits, capsys, preconditioner
):
    nlp = NeuralNetModel(models.mlp([64, 64, 10], seed=0), *digits, batch_size=200)
    options = {"max_time": None, "resample": "iteration", "verbose": 25, "preconditioner": preconditioner}
    stats = solvers.hessian_free(nlp, max_iter=50, **options)
    assert stats.status == "max_iter"
    assert nlp.accuracy(stats.solution) >= 0.94
    assert (
        stats.counters["neval_ghprod"] > HessianFreeParameters().cg_max_iter * stats.iter
        and stats.counters["neval_hprod"] == 0
    )
    assert stats.solver_specific["epochs"] >= 6
    table = capsys.readouterr().out
    assert "lambda" in table and "cg_exit" in table


def test_hessian_curvature_on_a_network_uses_sub_sampled_hessian_products(digits):
    nlp = NeuralNetModel(models.mlp([64, 16, 10], seed=1), *digits, batch_size=100)
    stats = solvers.minimize(nlp, "hessian_free", curvature="hessian", curvature_fraction=0.2, max_iter=3)
    assert stats.counters["neval_hprod"] > stats.iter and stats.counters["neval_ghprod"] == 0
    assert stats.objective < nlp.obj(nlp.meta.x0)


def test_one_gradient_per_iteration_when_the_batch_moves_after_each_and_the_same_iterates(digits):
    def run(**options):
        nlp = NeuralNetModel(models.mlp([64, 16, 10], seed=2), *digits, batch_size=50)
        stats = solvers.hessian_free(nlp, max_iter=8, atol=0, rtol=0, eval_every=None, **options)
        return stats, nlp

    moving, nlp = run(resample="iteration")
    steps = sum(1 for bk in moving.history["bk"][1:] if bk < HessianFreeParameters().bk_max)
    assert nlp.batch_version == moving.iter == 8 and steps > 0
    assert moving.counters["neval_grad"] == 1 + moving.iter  # the start, then one on each new batch
    unannounced, other = run(callback=lambda model, solver, stats: stats.iter and model.next_minibatch())
    assert other.batch_version == 8
    assert numpy.array_equal(moving.solution, unannounced.solution)
    # also at x + αd on the old batch, and no refresh after the last move (the run ends there)
    assert unannounced.counters["neval_grad"] == moving.iter + steps
    assert moving.objective == pytest.approx(nlp.obj(moving.solution), rel=1e-6)


def test_on_one_batch_the_gradient_at_each_new_point_comes_with_the_step(digits):
    nlp = NeuralNetModel(models.mlp([64, 16, 10], seed=2), *digits, batch_size=50)
    stats = solvers.hessian_free(nlp, max_iter=6, atol=0, rtol=0, eval_every=None)
    steps = sum(1 for step in numpy.diff(numpy.asarray(stats.history["f"])) if step != 0)
    assert nlp.batch_version == 0 and steps > 0
    assert stats.counters["neval_grad"] == 1 + steps
    f, g = nlp.objgrad(stats.solution)
    assert stats.objective == f and numpy.array_equal(stats.gradient, g)


def test_the_step_is_cgs_last_iterate_unless_cg_backtracking_evaluates_the_earlier_ones(digits):
    def run(**options):
        nlp = NeuralNetModel(models.mlp([64, 16, 10], seed=2), *digits, batch_size=100)
        options = {"cg_max_iter": 3, "max_iter": 12, "resample": "iteration", **options}
        stats = solvers.hessian_free(nlp, atol=0, rtol=0, eval_every=None, **options)
        history = {name: stats.history[name][1:] for name in ("cg", "kept", "bk")}
        return stats, history

    last, history = run()
    assert HessianFreeParameters().cg_backtracking is False
    assert history["kept"] == history["cg"] == [3] * last.iter  # CG runs to its cap (no early exit)
    # one objective at each new batch with its gradient, one at x + d, one per Armijo backtrack
    assert last.counters["neval_obj"] == last.counters["neval_grad"] + last.iter + sum(history["bk"])

    back, history = run(cg_backtracking=True)
    assert history["cg"] == [3] * back.iter and all(kept in (1, 2, 3) for kept in history["kept"])
    # at least the last two kept iterates (at CG iterations 3 and 2) are evaluated each iteration
    assert back.counters["neval_obj"] >= back.counters["neval_grad"] + 2 * back.iter + sum(history["bk"])


def test_a_run_whose_steps_all_fail_stops_once_the_damped_step_rounds_to_nothing():
    # from the 4th evaluation on, f is 5 wherever it is asked: no Armijo step can succeed, λ grows by
    # 3/2 at each iteration, and the step d ~ g/λ ends lost to rounding (x + d = x) long before λ
    # overflows
    stalled = solvers.hessian_free(Poisoned(after=3, value=5.0), curvature="hessian", atol=0, rtol=0)
    assert stalled.status == "small_step" and stalled.iter < 200
    poisoned = solvers.hessian_free(Poisoned(after=3), curvature="hessian", atol=0, rtol=0)
    assert poisoned.status == "exception" and poisoned.iter < 200
    assert "objective is not finite at x + d, a step that rounds to x" in poisoned.message


def test_the_damping_stays_above_its_floor_on_a_model_with_samples_and_not_on_a_fixed_problem(digits):
    def run(**options):
        nlp = NeuralNetModel(models.mlp([64, 16, 10], seed=2), *digits, batch_size=100)
        options = {"curvature_fraction": 1.0, "cg_max_iter": 3, "max_iter": 30, **options}
        return solvers.hessian_free(nlp, atol=0, rtol=0, eval_every=None, resample="iteration", **options)

    floored, free = run(damping=4.0), run(damping=4.0, min_damping=0.0)
    assert min(floored.history["step"][1:]) == 1.0
    assert min(free.history["step"][1:]) < 0.1
    fixed = solvers.hessian_free(rosenbrock(), curvature="hessian", max_iter=40, atol=0, rtol=0)
    assert min(fixed.history["step"][1:]) < 0.1
