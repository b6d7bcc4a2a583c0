"""The deterministic solvers against references: first-order points on every classic problem,
iteration counts against SciPy, superlinear convergence of trunk, and their building blocks (line
searches, Steihaug-Toint CG, the trust-region rules)."""

from __future__ import annotations

import math
import warnings

import numpy
import pytest
import scipy.optimize
from doubles import Quadratic
from minidnn.nlpmodels import LBFGSModel, LSR1Model, to_scipy
from minidnn.nlpmodels.problems import CLASSIC, rosenbrock
from minidnn.solvers.line_search import Line, armijo_wolfe, strong_wolfe
from minidnn.solvers.steihaug import BOUNDARY, CONVERGED, MAX_ITER, NEGATIVE_CURVATURE, truncated_cg
from minidnn.solvers.trust_region import TrustRegion, initial_radius, reductions

from minidnn import backend as backends
from minidnn import solvers

TOL = 1e-6
NUMPY = backends.get("numpy")
ARMIJO = {"tau0": 1e-4, "tau1": 0.9999, "bk_max": 25, "dtype": "float64"}  # lbfgs's defaults in float64

# Plain R2 needs 1e5+ iterations where the Hessian is singular at the solution (Powell) or badly
# conditioned (Woods); with momentum (beta = 0.9) it converges in 2e3-1e5 iterations. Brown's badly
# scaled function (condition 1e12, gradient 1e6 at x0) stays out of reach of a first-order method
# (3e5 iterations in 15 s leave ||g|| near 2e6, with and without momentum).
R2_WITH_MOMENTUM = {"powell_singular", "extended_powell", "woods"}
R2_OUT_OF_REACH = {"brown_badly_scaled"} | R2_WITH_MOMENTUM


def solve(name: str, method: str, **options: object) -> solvers.ExecutionStats:
    """A run to ‖g‖ ≤ TOL, budgeted in iterations (10,000 unless ``options`` say otherwise), not seconds."""
    budget = {"max_iter": 10_000, "max_time": None, **options}
    return solvers.minimize(CLASSIC[name](), method, atol=TOL, rtol=0.0, **budget)


# -- first-order points on the classic problems --------------------------------------------------------------
@pytest.mark.parametrize("name", list(CLASSIC))
@pytest.mark.parametrize(
    ("method", "options"),
    [("lbfgs", {}), ("lbfgs", {"line_search": "strong_wolfe"}), ("trunk", {}), ("lsr1", {})],
    ids=["lbfgs", "lbfgs-strong-wolfe", "trunk", "lsr1"],
)
def test_second_order_and_quasi_newton_reach_first_order(name: str, method: str, options: dict) -> None:
    stats = solve(name, method, **options)
    assert stats.status == "first_order", stats.message
    assert stats.dual_feas <= TOL
    nlp = CLASSIC[name]()
    assert float(numpy.linalg.norm(nlp.grad(stats.solution))) == pytest.approx(stats.dual_feas)


@pytest.mark.parametrize("name", [n for n in CLASSIC if n not in R2_OUT_OF_REACH])
def test_r2_reaches_first_order(name: str) -> None:
    stats = solve(name, "r2", max_iter=50_000)
    assert stats.status == "first_order", stats.message
    assert stats.dual_feas <= TOL


@pytest.mark.parametrize("name", sorted(R2_WITH_MOMENTUM))
def test_r2_with_momentum_reaches_first_order_on_singular_and_ill_conditioned_problems(name: str) -> None:
    stats = solve(name, "r2", beta=0.9, max_iter=200_000)
    assert stats.status == "first_order", stats.message
    assert stats.dual_feas <= TOL


def test_trunk_on_quasi_newton_models_reaches_first_order() -> None:
    for model in (LBFGSModel(rosenbrock(), mem=5), LSR1Model(rosenbrock(), mem=5)):
        stats = solvers.trunk(model, atol=TOL, rtol=0.0)
        assert stats.status == "first_order"
        assert stats.counters["neval_hprod"] > 0


# -- iteration counts against SciPy --------------------------------------------------------------------------
def scipy_iterations(name: str, method: str) -> int:
    nlp = CLASSIC[name]()
    problem = to_scipy(nlp, combined=True)
    if method == "L-BFGS-B":
        problem.pop("hessp")
        options = {"maxcor": 10, "gtol": TOL / math.sqrt(nlp.meta.nvar), "ftol": 0.0, "maxiter": 10_000}
    else:
        options = {"gtol": TOL, "maxiter": 10_000}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = scipy.optimize.minimize(method=method, options=options, **problem)
    assert numpy.linalg.norm(result.jac) <= TOL
    return int(result.nit)


@pytest.mark.parametrize("name", list(CLASSIC))
def test_lbfgs_needs_at_most_twice_the_iterations_of_scipy_lbfgsb(name: str) -> None:
    stats = solve(name, "lbfgs", mem=10)
    assert stats.status == "first_order"
    assert stats.iter <= 2 * scipy_iterations(name, "L-BFGS-B")


@pytest.mark.parametrize("name", list(CLASSIC))
def test_trunk_needs_at_most_twice_the_iterations_of_scipy_trust_ncg(name: str) -> None:
    stats = solve(name, "trunk")
    assert stats.status == "first_order"
    assert stats.iter <= 2 * scipy_iterations(name, "trust-ncg")


# -- superlinear convergence of trunk with the exact Hessian -------------------------------------------------
@pytest.mark.parametrize("x0", [None, (0.8, 0.6), (1.1, 1.2)])
def test_trunk_converges_superlinearly_near_the_rosenbrock_minimiser(x0: tuple | None) -> None:
    start = None if x0 is None else numpy.array(x0)
    stats = solvers.trunk(rosenbrock(), start, atol=1e-10, rtol=0.0)
    assert stats.status == "first_order"
    norms = stats.history["grad_norm"]
    tail = norms[next(i for i, g in enumerate(norms) if g < 1e-3) :]
    ratios = [b / a for a, b in zip(tail, tail[1:])]
    assert len(ratios) >= 2
    assert all(later < earlier for earlier, later in zip(ratios, ratios[1:])), ratios
    assert ratios[-1] < 1e-2
    assert all(b <= 1e3 * a * a for a, b in zip(tail, tail[1:]))  # quadratic: ‖g+‖ ≤ C ‖g‖²


# -- lbfgs and lsr1 details ----------------------------------------------------------------------------------
def test_lbfgs_keeps_at_most_mem_pairs_and_logs_backtracks() -> None:
    stats = solvers.lbfgs(rosenbrock(), mem=3)
    assert max(m for m in stats.history["mem"] if m is not None) <= 3
    assert all(b is None or b >= 0 for b in stats.history["bk"])
    assert all(t is None or t > 0 for t in stats.history["step"][1:])


def test_lsr1_learns_from_rejected_trials_too() -> None:
    updates = []

    class Recording(LSR1Model):
        def update(self, s, y):
            updates.append(1)
            return super().update(s, y)

    stats = solvers.trunk(Recording(rosenbrock()), atol=TOL, rtol=0.0)
    rejected = sum(1 for r in stats.history["ratio"][1:] if r is not None and r < 1e-4)
    assert rejected > 0
    assert len(updates) == stats.iter


def test_r2_with_momentum_reaches_first_order() -> None:
    stats = solvers.r2(Quadratic((1.0, 10.0, 100.0)), beta=0.9, atol=TOL, rtol=0.0)
    assert stats.status == "first_order"


def test_r2_sigma_follows_the_jso_rules() -> None:
    stats = solvers.r2(rosenbrock(), max_iter=200)
    sigma, ratio = stats.history["step"], stats.history["ratio"]
    assert sigma[0] == 2.0 ** round(math.log2(stats.history["grad_norm"][0] + 1))
    eta1 = numpy.finfo(numpy.float64).eps ** 0.25
    for k in range(1, len(sigma)):
        if ratio[k] >= 0.95:
            assert sigma[k] == max(sigma[k - 1] / 2, numpy.finfo(numpy.float64).eps)
        elif ratio[k] >= eta1:
            assert sigma[k] == sigma[k - 1]
        else:
            assert sigma[k] == 2 * sigma[k - 1]


# -- line searches -------------------------------------------------------------------------------------------
def line_on(nlp, x, d):
    f0, g0 = nlp.objgrad(x)
    return Line(nlp, x, d), f0, float(g0 @ d)


def test_armijo_wolfe_satisfies_armijo() -> None:
    nlp = rosenbrock()
    x = nlp.meta.x0
    d = -nlp.grad(x)
    line, f0, slope0 = line_on(nlp, x, d)
    result = armijo_wolfe(line, f0, slope0, **ARMIJO)
    assert result.success and result.backtracks > 0
    assert result.point.f <= f0 + 1e-4 * result.point.t * slope0
    assert result.point.f == pytest.approx(nlp.obj(x + result.point.t * d))


def test_armijo_wolfe_enlarges_a_short_step() -> None:
    nlp = Quadratic((1.0, 1.0))
    x = numpy.zeros(2)
    d = -1e-6 * nlp.grad(x)  # the minimiser along d is at t = 1e6; the slope stays steep until t = 100
    line, f0, slope0 = line_on(nlp, x, d)
    result = armijo_wolfe(line, f0, slope0, **ARMIJO)
    assert result.success and result.point.t == 125.0  # 1 -> 5 -> 25 -> 125, then the slope is flat enough


def test_strong_wolfe_satisfies_both_conditions() -> None:
    nlp = rosenbrock()
    for x in (nlp.meta.x0, numpy.array([0.0, 0.0]), numpy.array([2.0, 2.0])):
        d = -nlp.grad(x)
        line, f0, slope0 = line_on(nlp, x, d)
        result = strong_wolfe(line, f0, slope0)
        p = result.point
        assert result.success
        assert p.f <= f0 + 1e-4 * p.t * slope0
        assert abs(p.slope) <= 0.9 * abs(slope0)


def test_line_searches_treat_non_finite_values_as_too_far() -> None:
    class Wall(Quadratic):
        def _obj(self, x):
            return math.inf if x[0] > 0.5 else super()._obj(x)

    nlp = Wall((1.0, 1.0))
    x, d = numpy.zeros(2), numpy.array([1.0, 1.0])
    for search in (lambda ln, f, s: armijo_wolfe(ln, f, s, **ARMIJO), strong_wolfe):
        line, f0, slope0 = line_on(nlp, x, d)
        result = search(line, f0, slope0)
        assert result.success and result.point.t <= 0.5 and math.isfinite(result.point.f)


# -- Steihaug-Toint CG ---------------------------------------------------------------------------------------
def cg(h: numpy.ndarray, g: numpy.ndarray, radius: float, max_iter: int = 50, rtol: float = 1e-10):
    return truncated_cg(
        NUMPY, lambda v: h @ v, g, float(numpy.linalg.norm(g)), radius, atol=0.0, rtol=rtol, max_iter=max_iter
    )


def model(h, g, s):
    return float(g @ s + 0.5 * s @ h @ s)


def test_cg_solves_a_positive_definite_system_inside_the_region() -> None:
    rng = numpy.random.default_rng(0)
    a = rng.standard_normal((6, 6))
    h = a @ a.T + 6 * numpy.eye(6)
    g = rng.standard_normal(6)
    result = cg(h, g, radius=1e3)
    assert result.exit == CONVERGED and result.iterations <= 6
    numpy.testing.assert_allclose(result.step, numpy.linalg.solve(h, -g), rtol=1e-8)
    assert result.model_decrease == pytest.approx(model(h, g, result.step))


def test_cg_stops_on_the_boundary() -> None:
    h = numpy.diag([1.0, 2.0, 3.0])
    g = numpy.array([1.0, 1.0, 1.0])
    result = cg(h, g, radius=0.5)
    assert result.exit == BOUNDARY
    assert numpy.linalg.norm(result.step) == pytest.approx(0.5)
    assert result.model_decrease == pytest.approx(model(h, g, result.step))


def test_cg_follows_negative_curvature_to_the_boundary() -> None:
    h = numpy.diag([-2.0, 1.0])
    g = numpy.array([1.0, 1.0])
    result = cg(h, g, radius=2.0)
    assert result.exit == NEGATIVE_CURVATURE
    assert numpy.linalg.norm(result.step) == pytest.approx(2.0)
    assert result.model_decrease == pytest.approx(model(h, g, result.step))
    assert result.model_decrease < model(h, g, -g / numpy.linalg.norm(g) * 0.1)


def test_cg_respects_its_iteration_cap_and_always_moves() -> None:
    h = numpy.diag(numpy.arange(1.0, 21.0))
    g = numpy.ones(20)
    result = cg(h, g, radius=1e3, max_iter=3)
    assert result.exit == MAX_ITER and result.iterations == 3
    tiny = cg(h, g, radius=1e3, rtol=10.0)
    assert tiny.iterations == 1 and tiny.model_decrease < 0


def test_cg_decrease_is_monotone_along_its_iterations() -> None:
    h = numpy.diag(numpy.arange(1.0, 11.0))
    g = numpy.ones(10)
    values = [cg(h, g, radius=1e3, max_iter=k).model_decrease for k in range(1, 8)]
    assert all(b < a for a, b in zip(values, values[1:]))


# -- trust-region rules (SolverTools.jl's TrustRegion) -------------------------------------------------------
def test_trust_region_radius_rules() -> None:
    assert initial_radius(2.0) == 1.0 and initial_radius(50.0) == 5.0 and initial_radius(5e3) == 100.0
    region = TrustRegion(1.0, "float64")
    region.update(1e-5, 0.9)
    assert region.radius == pytest.approx(0.3)
    region.update(0.5, 0.3)
    assert region.radius == pytest.approx(0.3)
    region.update(0.99, 0.3)
    assert region.radius == pytest.approx(0.45)
    region.update(math.nan, 0.45)
    assert region.radius == pytest.approx(0.15)
    assert not region.acceptable(math.nan) and region.acceptable(1e-4)
    region.radius = 1e10
    region.update(1.0, 1e10)
    assert region.radius == 1 / math.sqrt(numpy.finfo(numpy.float64).eps)


def test_reductions_fall_back_on_slopes_when_f_cannot_resolve_them() -> None:
    eps = float(numpy.finfo(numpy.float64).eps)
    plain = reductions(10.0, 9.0, -2.0, -3.0, lambda: pytest.fail("no slope needed"), eps)
    assert plain.ratio == pytest.approx(0.5) and not plain.used_trial_slope
    rounded = reductions(1.0, 1.0, -1e-13, -2e-13, lambda: 0.0, eps)
    assert rounded.used_trial_slope and rounded.ratio == pytest.approx(1.0)
