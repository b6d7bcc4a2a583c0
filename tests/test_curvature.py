"""nlpmodels.curvature against dense linear algebra: the Hessian assembled from hprod, then eigvalsh.

A network with a few hundred parameters in float64 (full batch, so the Hessian is one fixed matrix),
and every classic problem: top eigenvalues by Lanczos and power iteration, Hutchinson's trace, the
SLQ density; seeding, the device (host transfers counted on the strict stand-in) and bad input.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from minidnn.datasets import Dataset
from minidnn.nlpmodels import FunctionModel, LBFGSModel, NeuralNetModel, curvature
from minidnn.nlpmodels.problems import CLASSIC, extended_rosenbrock, quadratic

from minidnn import backend, models


def synthetic(n: int, classes: int = 3, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1, 4, 4), dtype=np.float32)
    y = rng.integers(0, classes, n).astype(np.int64)
    return Dataset(x, y, tuple(str(c) for c in range(classes)), "synthetic", "train")


def network_model(dtype: str = "float64") -> NeuralNetModel:
    """MLP 16-12-3 with tanh on 40 samples, full batch: 243 parameters."""
    net = models.mlp([16, 12, 3], activation="tanh", seed=0)
    return NeuralNetModel(net, synthetic(40), backend="numpy", dtype=dtype, full_batch=True, batch_size=40)


def dense_hessian(nlp, x) -> np.ndarray:
    be = nlp.meta.backend
    n = nlp.meta.nvar
    columns = [be.to_host(nlp.hprod(x, be.to_device(e, dtype=nlp.meta.dtype))) for e in np.eye(n)]
    h = np.asarray(columns, dtype=np.float64)
    return (h + h.T) / 2


@pytest.fixture(scope="module")
def network():
    """(model, point, dense eigenvalues descending) for the network, away from its start."""
    nlp = network_model()
    x = nlp.meta.x0 + 0.5 * np.random.default_rng(1).standard_normal(nlp.meta.nvar)
    return nlp, x, np.linalg.eigvalsh(dense_hessian(nlp, x))[::-1]


def test_the_network_has_a_few_hundred_parameters_and_an_indefinite_hessian(network):
    nlp, _, lam = network
    assert 200 <= nlp.meta.nvar <= 400
    assert lam[0] > 0 > lam[-1]


# -- eigenvalues ------------------------------------------------------------------------------------------
def test_top_five_eigenvalues_match_the_dense_ones(network):
    nlp, x, lam = network
    values = curvature.eigenvalues(nlp, x, 5)
    assert values.shape == (5,) and values.dtype == np.float64
    np.testing.assert_allclose(values, lam[:5], rtol=1e-8)


def test_eigenvectors_are_unit_and_satisfy_the_eigen_equation(network):
    nlp, x, lam = network
    values, vectors = curvature.eigenvalues(nlp, x, 3, vectors=True)
    assert vectors.shape == (3, nlp.meta.nvar) and vectors.dtype == np.float64
    for value, y in zip(values, vectors):
        assert np.linalg.norm(y) == pytest.approx(1.0, abs=1e-10)
        assert np.linalg.norm(nlp.hprod(x, np.ascontiguousarray(y)) - value * y) <= 1e-6 * abs(lam[0])


def test_lanczos_stops_early_and_counts_its_products(network):
    nlp, x, _ = network
    nlp.reset_counters()
    curvature.eigenvalues(nlp, x, 1)
    products = nlp.counters.neval_hprod
    assert 0 < products < nlp.meta.nvar / 2
    assert nlp.counters.neval_obj == nlp.counters.neval_grad == 0


def test_power_iteration_is_the_reference_for_the_dominant_eigenvalue(network):
    nlp, x, lam = network
    dominant = lam[np.argmax(np.abs(lam))]
    pair = curvature.power_iteration(nlp, x, tol=1e-6, max_iter=500)
    assert pair.value == pytest.approx(dominant, rel=1e-6)
    assert pair.value == pytest.approx(curvature.eigenvalues(nlp, x)[0], rel=1e-6)
    assert np.linalg.norm(pair.vector) == pytest.approx(1.0)
    assert pair.iterations % 10 == 0 or pair.iterations == 500


def test_a_short_budget_warns_and_returns_estimates(network):
    nlp, x, lam = network
    with pytest.warns(RuntimeWarning, match="raise max_iter"):
        values = curvature.eigenvalues(nlp, x, 5, max_iter=6)
    assert values.shape == (5,) and values[0] <= lam[0] * (1 + 1e-12)


@pytest.mark.parametrize("name", sorted(CLASSIC))
def test_classic_problems_match_dense_eigenvalues(name):
    nlp = CLASSIC[name]()
    x = nlp.meta.x0
    lam = np.linalg.eigvalsh(dense_hessian(nlp, x))[::-1]
    k = min(5, nlp.meta.nvar)
    values = curvature.eigenvalues(nlp, x, k)
    np.testing.assert_allclose(values, lam[:k], rtol=1e-8, atol=1e-8 * abs(lam).max())
    estimate = curvature.trace(nlp, x, probes=50)
    assert abs(estimate.estimate - lam.sum()) <= 3 * estimate.stderr + 1e-9 * abs(lam).sum()
    assert _mass(curvature.density(nlp, x)) == pytest.approx(1.0, abs=1e-8)


def test_repeated_eigenvalues_are_all_found_after_the_krylov_space_is_exhausted():
    nlp = extended_rosenbrock(8)
    lam = np.linalg.eigvalsh(dense_hessian(nlp, nlp.meta.x0))[::-1]
    assert lam[0] == pytest.approx(lam[1])
    np.testing.assert_allclose(curvature.eigenvalues(nlp, nlp.meta.x0, 4), lam[:4], rtol=1e-10)


def test_float32_models_get_float32_accuracy(network):
    _, x, lam = network
    nlp = network_model("float32")
    values = curvature.eigenvalues(nlp, x.astype(np.float32), 2)
    np.testing.assert_allclose(values, lam[:2], rtol=1e-3)


# -- trace ------------------------------------------------------------------------------------------------
def test_trace_is_within_three_standard_errors(network):
    nlp, x, lam = network
    estimate = curvature.trace(nlp, x, probes=100)
    assert estimate.probes == 100 and estimate.stderr > 0
    assert abs(estimate.estimate - lam.sum()) <= 3 * estimate.stderr


def test_the_trace_of_a_diagonal_hessian_is_exact_with_rademacher_probes():
    """z^T D z = tr D for every +-1 vector z: zero variance, so a zero standard error."""
    diag = np.linspace(-1.0, 3.0, 7)
    nlp = FunctionModel(
        lambda x: 0.5 * float(x @ (diag * x)),
        np.ones(7),
        grad=lambda x: diag * x,
        hprod=lambda x, v: diag * v,
    )
    estimate = curvature.trace(nlp, nlp.meta.x0, probes=5)
    assert estimate.estimate == pytest.approx(diag.sum()) and estimate.stderr == pytest.approx(0.0, abs=1e-15)
    assert math.isnan(curvature.trace(nlp, nlp.meta.x0, probes=1).stderr)


# -- density ----------------------------------------------------------------------------------------------
def _mass(result):
    """The integral of the density: each value is the mean over its grid cell."""
    return float(np.sum(result.density) * (result.grid[1] - result.grid[0]))


def _cdf(result, t):
    """The density's mass below t (interpolated between cell edges)."""
    h = result.grid[1] - result.grid[0]
    edges = np.concatenate([result.grid - h / 2, result.grid[-1:] + h / 2])
    return np.interp(t, edges, np.concatenate([[0.0], np.cumsum(result.density) * h]))


def test_density_integrates_to_one_and_matches_the_dense_eigenvalue_histogram(network):
    nlp, x, lam = network
    result = curvature.density(nlp, x, steps=60, probes=8, seed=3)
    assert result.grid.shape == result.density.shape == (10_000,) and np.all(result.density >= 0)
    assert _mass(result) == pytest.approx(1.0, abs=1e-8)
    assert np.trapezoid(result.density, result.grid) == pytest.approx(1.0, abs=1e-6)
    assert all(w.sum() == pytest.approx(1.0) for w in result.weights)
    for t in np.quantile(lam, [0.1, 0.25, 0.5, 0.75, 0.9]):
        assert _cdf(result, t) == pytest.approx(np.mean(lam <= t), abs=0.08)


def test_density_of_a_known_spectrum_has_its_mass_where_the_eigenvalues_are():
    nlp = quadratic(30, condition=100.0)
    lam = np.geomspace(1.0, 100.0, 30)
    result = curvature.density(nlp, nlp.meta.x0, probes=20, sigma=0.05, grid_size=2000)
    assert result.sigma == 0.05 and all(t.size == 30 for t in result.nodes)
    for a, b in zip(lam[:-1], lam[1:]):
        mid = (a + b) / 2
        assert _cdf(result, mid) == pytest.approx(np.mean(lam <= mid), abs=0.12)


# -- seeds, device, counters ------------------------------------------------------------------------------
def test_same_seed_same_numbers_other_seed_other_numbers(network):
    nlp, x, _ = network
    assert curvature.trace(nlp, x, probes=5, seed=7) == curvature.trace(nlp, x, probes=5, seed=7)
    assert curvature.trace(nlp, x, probes=5, seed=7) != curvature.trace(nlp, x, probes=5, seed=8)
    a = curvature.density(nlp, x, steps=12, probes=2, seed=1)
    b = curvature.density(nlp, x, steps=12, probes=2, seed=1)
    np.testing.assert_array_equal(a.density, b.density)


def test_on_the_strict_device_only_batched_scalars_cross_to_the_host():
    be = backend.get("array-api-strict")
    nlp = quadratic(40, condition=10.0, backend="array-api-strict")
    x = nlp.meta.x0
    start = be.host_transfers
    nlp.reset_counters()
    values = curvature.eigenvalues(nlp, x, 3)
    products = nlp.counters.neval_hprod
    assert be.host_transfers - start <= math.ceil(products / 10) + 1
    np.testing.assert_allclose(values, np.geomspace(1.0, 10.0, 40)[::-1][:3], rtol=1e-8)
    start = be.host_transfers
    curvature.trace(nlp, x, probes=30)
    assert be.host_transfers - start == 1
    start = be.host_transfers
    curvature.density(nlp, x, steps=25, probes=2)
    assert be.host_transfers - start <= 2 * 3
    pair = curvature.power_iteration(nlp, x, max_iter=30)
    assert be.owns(pair.vector)


def test_the_point_is_copied_and_left_alone(network):
    nlp, x, _ = network
    before = x.copy()
    curvature.eigenvalues(nlp, x, 2)
    np.testing.assert_array_equal(x, before)


def test_the_quasi_newton_operator_has_curvature_too():
    nlp = LBFGSModel(quadratic(6), mem=3)
    lam = np.linalg.eigvalsh(dense_hessian(nlp, nlp.meta.x0))[::-1]
    np.testing.assert_allclose(curvature.eigenvalues(nlp, nlp.meta.x0, 2), lam[:2], rtol=1e-10)


# -- bad input --------------------------------------------------------------------------------------------
def test_bad_arguments_are_refused_before_any_product(network):
    nlp, x, _ = network
    nlp.reset_counters()
    n = nlp.meta.nvar
    cases = [
        (lambda: curvature.eigenvalues(nlp, x, n + 1), f"k must be <= nvar = {n}"),
        (lambda: curvature.eigenvalues(nlp, x, 0), "k must be an integer >= 1"),
        (lambda: curvature.eigenvalues(nlp, x, 2.5), "k must be an integer"),
        (lambda: curvature.eigenvalues(nlp, x, 3, max_iter=2), "max_iter must be >= k"),
        (lambda: curvature.eigenvalues(nlp, x, tol=0.0), "tol must be a number > 0"),
        (lambda: curvature.trace(nlp, x, probes=0), "probes must be an integer >= 1"),
        (lambda: curvature.density(nlp, x, probes=0), "probes must be an integer >= 1"),
        (lambda: curvature.density(nlp, x, steps=0), "steps must be an integer >= 1"),
        (lambda: curvature.density(nlp, x, sigma=-1.0), "sigma must be a number > 0"),
        (lambda: curvature.density(nlp, x, grid_size=1), "grid_size must be an integer >= 2"),
        (lambda: curvature.power_iteration(nlp, x, max_iter=0), "max_iter must be an integer >= 1"),
        (lambda: curvature.eigenvalues(nlp, x[:-1]), f"x must have shape \\({n},\\)"),
        (lambda: curvature.trace(nlp, x.astype(np.float32)), "x must have dtype float64"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    assert nlp.counters.neval_hprod == 0


def test_a_model_without_hessian_products_is_refused():
    plain = FunctionModel(lambda x: float(x @ x), np.ones(3), grad=lambda x: 2 * x)
    for estimate in (curvature.eigenvalues, curvature.trace, curvature.density, curvature.power_iteration):
        with pytest.raises(TypeError, match="has no Hessian-vector product"):
            estimate(plain, plain.meta.x0)
    with pytest.raises(TypeError, match="needs an NLPModel with hprod"):
        curvature.trace(object(), np.ones(3))


def test_no_warning_where_nothing_is_wrong(network):
    nlp, x, _ = network
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curvature.eigenvalues(nlp, x, 2)
        curvature.density(nlp, x, steps=15)
