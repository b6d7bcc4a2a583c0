"""to_scipy: SciPy's minimize solves the classic problems through the adapter, on every backend and
dtype, with exact Hessian products for trust-ncg."""

import math
import warnings

import numpy as np
import pytest
from minidnn.nlpmodels import LSR1Model, NLPModel, to_scipy
from minidnn.nlpmodels.problems import CLASSIC, logistic_regression, rosenbrock
from scipy.optimize import minimize
from test_nlp_problems import BACKENDS, DTYPES, TINY, host

# MGH problem 2: from its standard start, Newton-type methods reach the local minimizer with this value.
FREUDENSTEIN_ROTH_LOCAL = 48.98425367924


@pytest.mark.parametrize("name", sorted(CLASSIC))
def test_lbfgsb_solves_the_classic_problems(name):
    nlp = CLASSIC[name]()
    problem = to_scipy(nlp, hessp=False)
    assert "hessp" not in problem
    f0, g0 = nlp.objgrad(nlp.meta.x0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = minimize(method="L-BFGS-B", **problem)
    assert result.success, result.message
    assert result.fun == nlp.obj(result.x) <= f0
    assert np.abs(nlp.grad(result.x)).max() <= 1e-4 * np.abs(g0).max()


@pytest.mark.parametrize("name", sorted(CLASSIC))
def test_trust_ncg_solves_the_classic_problems_with_exact_hessian_products(name):
    nlp = CLASSIC[name]()
    # Brown's minimizer lies 1e6 away: SciPy's default largest trust radius (1000) would need 1000 steps.
    options = {"max_trust_radius": 1e8} if name == "brown_badly_scaled" else {}
    result = minimize(method="trust-ncg", options=options, **to_scipy(nlp))
    assert result.success, result.message
    assert nlp.counters.neval_hprod > 0
    target = FREUDENSTEIN_ROTH_LOCAL if name == "freudenstein_roth" else nlp.f_star
    assert result.fun == pytest.approx(target, abs=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_conversions_on_every_backend_and_dtype(backend, dtype):
    nlp = rosenbrock(backend=backend, dtype=dtype)
    problem = to_scipy(nlp)
    assert sorted(problem) == ["fun", "hessp", "jac", "x0"]
    x0 = problem["x0"]
    assert x0.dtype == np.float64
    np.testing.assert_allclose(x0, [-1.2, 1.0], rtol=1e-7)
    x0[0] = 5.0
    assert host(nlp, nlp.meta.x0)[0] == pytest.approx(-1.2)
    x = np.array([0.5, -0.25])
    f, g, hv = problem["fun"](x), problem["jac"](x), problem["hessp"](x, np.array([1.0, 2.0]))
    assert isinstance(f, float) and f == pytest.approx(100 * (-0.25 - 0.25) ** 2 + 0.25, rel=1e-6)
    for a in (g, hv):
        assert isinstance(a, np.ndarray) and a.dtype == np.float64 and a.shape == (2,)
    np.testing.assert_allclose(g, [-400 * 0.5 * -0.5 - 1.0, 200 * -0.5], rtol=1e-6)
    np.testing.assert_allclose(hv, [(1200 * 0.25 + 100 + 2) - 400 * 0.5 * 2, -400 * 0.5 + 400], rtol=1e-6)
    result = minimize(method="trust-ncg", **problem)
    assert result.success
    np.testing.assert_allclose(result.x, [1.0, 1.0], atol=1e-3)


def test_combined_form_evaluates_once_per_point():
    separate, combined = rosenbrock(), rosenbrock()
    problem = to_scipy(combined, combined=True)
    assert problem["jac"] is True
    f, g = problem["fun"](np.array([0.0, 0.0]))
    assert f == 1.0 and g.tolist() == [-2.0, 0.0]
    combined.reset_counters()
    a = minimize(method="L-BFGS-B", **to_scipy(combined, combined=True, hessp=False))
    b = minimize(method="L-BFGS-B", **to_scipy(separate, hessp=False))
    np.testing.assert_array_equal(a.x, b.x)
    assert combined.counters.neval_obj == combined.counters.neval_grad == a.nfev


def test_logistic_regression_through_the_adapter():
    nlp = logistic_regression(TINY, l2=0.1)
    result = minimize(method="trust-ncg", **to_scipy(nlp, combined=True))
    assert result.success and result.fun < math.log(len(TINY.classes))
    assert np.abs(nlp.grad(result.x)).max() < 1e-5


class NoHessian(NLPModel):
    def __init__(self):
        super().__init__(np.ones(2), name="no_hessian", dtype="float64")

    def _obj(self, x):
        return float(x @ x)

    def _grad(self, x):
        return 2 * x


def test_hessp_only_where_the_model_has_hessian_products():
    assert "hessp" not in to_scipy(NoHessian())
    assert "hessp" in to_scipy(LSR1Model(NoHessian()))
    result = minimize(method="L-BFGS-B", **to_scipy(NoHessian()))
    assert result.success and np.abs(result.x).max() < 1e-6


def test_hessp_on_request():
    assert "hessp" in to_scipy(rosenbrock(), hessp=True)
    assert "hessp" not in to_scipy(rosenbrock(), combined=True, hessp=False)
    with pytest.raises(ValueError, match="hessp=True, but no_hessian has no Hessian-vector product"):
        to_scipy(NoHessian(), hessp=True)
    with pytest.raises(TypeError, match="hessp must be None, True or False"):
        to_scipy(rosenbrock(), hessp="yes")


def test_a_method_without_hessian_products_warns_when_given_hessp():
    """Why hessp=False exists: SciPy warns that L-BFGS-B does not use hessp."""
    with pytest.warns(RuntimeWarning, match="hessp"):
        minimize(method="L-BFGS-B", **to_scipy(rosenbrock()))


def test_bad_points_are_refused_and_change_nothing():
    nlp = rosenbrock()
    problem = to_scipy(nlp)
    for call in (problem["fun"], problem["jac"], lambda z: problem["hessp"](z, z)):
        with pytest.raises(ValueError, match="x must have shape"):
            call(np.zeros(3))
    with pytest.raises(ValueError, match="v must have shape"):
        problem["hessp"](np.zeros(2), np.zeros(3))
    assert nlp.counters.as_dict() == {"neval_obj": 0, "neval_grad": 0, "neval_hprod": 0, "neval_ghprod": 0}
