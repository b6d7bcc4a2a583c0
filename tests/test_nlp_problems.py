"""The classic test problems: derivatives against finite differences, the NLPModel contract, known
solutions and starting values, argument checks.

The helpers ``host``, ``device``, ``check_contract`` and ``BAD_VECTORS`` are shared with the
quasi-Newton tests.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from minidnn.nlpmodels import NLPModel
from minidnn.nlpmodels.problems import (
    CLASSIC,
    extended_powell,
    extended_rosenbrock,
    logistic_regression,
    quadratic,
    rosenbrock,
)
from scipy.special import logsumexp

from minidnn import backend as backends
from minidnn import datasets

BACKENDS = ["numpy", "array-api-strict"]
DTYPES = ["float64", "float32"]
EPS64 = float(np.finfo(np.float64).eps)


def tiny_dataset(n=30, shape=(1, 2, 3), classes=("a", "b", "c", "d"), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, *shape), dtype=np.float32)
    y = rng.integers(0, len(classes), n).astype(np.int64)
    return datasets.Dataset(x, y, classes, "tiny", "train")


TINY = tiny_dataset()
PROBLEMS = {
    **CLASSIC,
    "rosenbrock(7)": lambda **kw: rosenbrock(7, **kw),
    "logistic(tiny)": lambda **kw: logistic_regression(TINY, l2=0.1, **kw),
}


# -- helpers shared with the quasi-Newton tests -----------------------------------------------------
def host(nlp, a):
    """A float64 NumPy copy of a model vector."""
    return np.array(nlp.meta.backend.to_host(a), dtype=np.float64)


def device(nlp, a):
    """A host array as a vector of the model's backend and dtype."""
    return nlp.meta.backend.to_device(np.asarray(a, dtype=np.float64), dtype=nlp.meta.dtype)


def vectors(n, low, high):
    return arrays(np.float64, n, elements=st.floats(low, high, allow_nan=False, width=64))


def check_contract(nlp, x, v, u, *, objgrad_exact=True):
    """objgrad = (obj, grad), <u, H v> = <v, H u>, exact counters, no aliasing or mutation of x,
    results of the model's dtype, and on a device backend one host transfer per obj, none per
    grad or hprod."""
    be, n = nlp.meta.backend, nlp.meta.nvar
    x_before, x0_before = host(nlp, x), host(nlp, nlp.meta.x0)
    nlp.reset_counters()
    transfers = be.host_transfers
    f = nlp.obj(x)
    assert isinstance(f, float)
    obj_transfers = be.host_transfers - transfers
    transfers = be.host_transfers
    g = nlp.grad(x)
    hv = nlp.hprod(x, v)
    derivative_transfers = be.host_transfers - transfers
    transfers = be.host_transfers
    f2, g2 = nlp.objgrad(x)
    objgrad_transfers = be.host_transfers - transfers
    hu = nlp.hess_op(x) @ u
    assert nlp.counters.as_dict() == {"neval_obj": 2, "neval_grad": 2, "neval_hprod": 2, "neval_ghprod": 0}
    if be.name != "numpy":
        assert (obj_transfers, derivative_transfers, objgrad_transfers) == (1, 0, 1)
    for r in (g, hv, hu, g2):
        assert r.dtype == nlp.meta.x0.dtype and tuple(r.shape) == (n,)
    rtol = 4 * float(np.finfo(nlp.meta.dtype).eps)
    assert math.isclose(f2, f, rel_tol=rtol, abs_tol=rtol) if not objgrad_exact else f2 == f
    np.testing.assert_allclose(host(nlp, g2), host(nlp, g), rtol=rtol, atol=rtol)
    uh, vh, hvh, huh = host(nlp, u), host(nlp, v), host(nlp, hv), host(nlp, hu)
    scale = np.abs(uh) @ np.abs(hvh) + np.abs(vh) @ np.abs(huh) + 1.0
    assert abs(uh @ hvh - vh @ huh) <= 50 * float(np.finfo(nlp.meta.dtype).eps) * scale
    out = device(nlp, np.zeros(n))
    assert nlp.grad(x, out=out) is out
    np.testing.assert_array_equal(host(nlp, out), host(nlp, g))
    if be.name == "numpy":
        assert not any(np.shares_memory(r, x) or np.shares_memory(r, nlp.meta.x0) for r in (g, hv, hu, g2))
    for r in (g, hv, hu, g2):
        r[...] = 7.0
    np.testing.assert_array_equal(host(nlp, x), x_before)
    np.testing.assert_array_equal(host(nlp, nlp.meta.x0), x0_before)
    assert nlp.obj(x) == f


def bad_vectors(nlp):
    """(label, vector) pairs each of which the model must refuse."""
    n, dtype = nlp.meta.nvar, nlp.meta.dtype
    other_dtype = "float32" if dtype == "float64" else "float64"
    other_backend = "array-api-strict" if nlp.meta.backend.name == "numpy" else "numpy"
    return [
        ("shape", device(nlp, np.zeros(n + 1))),
        ("shape", device(nlp, np.zeros((1, n)))),
        ("dtype", nlp.meta.backend.to_device(np.zeros(n), dtype=other_dtype)),
        ("backend", backends.get(other_backend).to_device(np.zeros(n), dtype=dtype)),
        ("backend", [0.0] * n),
    ]


# -- derivatives ------------------------------------------------------------------------------------
def central_difference(fn, x, v, h):
    return (fn(x + h * v) - fn(x - h * v)) / (2 * h)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(PROBLEMS))
@given(data=st.data())
def test_float64_derivatives_match_finite_differences(name, backend, data):
    nlp = PROBLEMS[name](backend=backend, dtype="float64")
    n, h = nlp.meta.nvar, 1e-6
    x = host(nlp, nlp.meta.x0) + data.draw(vectors(n, -0.5, 0.5), label="offset")
    v = data.draw(vectors(n, -1.0, 1.0), label="v")

    def f(z):
        return nlp.obj(device(nlp, z))

    def g(z):
        return host(nlp, nlp.grad(device(nlp, z)))

    gx, hv = g(x), host(nlp, nlp.hprod(device(nlp, x), device(nlp, v)))
    f_scale = max(abs(f(x + h * v)), abs(f(x - h * v)))
    assert abs(central_difference(f, x, v, h) - gx @ v) <= 1e-6 * (1 + abs(gx @ v)) + 4 * EPS64 * f_scale / h
    g_scale = max(np.abs(g(x + h * v)).max(), np.abs(g(x - h * v)).max())
    error = np.abs(central_difference(g, x, v, h) - hv).max()
    assert error <= 1e-6 * (1 + np.abs(hv).max()) + 4 * EPS64 * g_scale / h


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(PROBLEMS))
@given(data=st.data())
def test_float32_agrees_with_float64(name, backend, data):
    single = PROBLEMS[name](backend=backend, dtype="float32")
    double = PROBLEMS[name](backend="numpy", dtype="float64")
    n = single.meta.nvar
    x32 = device(single, host(single, single.meta.x0) + data.draw(vectors(n, -0.5, 0.5), label="offset"))
    v32 = device(single, data.draw(vectors(n, -1.0, 1.0), label="v"))
    x64, v64 = host(single, x32), host(single, v32)
    f64 = double.obj(x64)
    assert abs(single.obj(x32) - f64) <= 1e-5 * (1 + abs(f64))
    for got, want in (
        (single.grad(x32), double.grad(x64)),
        (single.hprod(x32, v32), double.hprod(x64, v64)),
    ):
        assert got.dtype == single.meta.x0.dtype
        assert np.abs(host(single, got) - want).max() <= 1e-3 * (1 + np.abs(want).max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(PROBLEMS))
@given(data=st.data())
def test_contract(name, backend, dtype, data):
    nlp = PROBLEMS[name](backend=backend, dtype=dtype)
    n = nlp.meta.nvar
    x = device(nlp, host(nlp, nlp.meta.x0) + data.draw(vectors(n, -0.5, 0.5), label="offset"))
    v = device(nlp, data.draw(vectors(n, -1.0, 1.0), label="v"))
    u = device(nlp, data.draw(vectors(n, -1.0, 1.0), label="u"))
    check_contract(nlp, x, v, u)


# -- known values ---------------------------------------------------------------------------------
# f(x0) computed by hand from each problem's formula and standard starting point.
STARTING_VALUES = {
    "rosenbrock": 24.2,
    "extended_rosenbrock": 48.4,
    "freudenstein_roth": 400.5,
    "brown_badly_scaled": (1.0 - 1e6) ** 2 + (1.0 - 2e-6) ** 2 + 1.0,
    "beale": 14.203125,
    "helical_valley": 2500.0,
    "powell_singular": 215.0,
    "woods": 19192.0,
    "extended_powell": 430.0,
}


@pytest.mark.parametrize("name", sorted(STARTING_VALUES))
def test_value_at_the_standard_starting_point(name):
    nlp = CLASSIC[name]()
    assert nlp.obj(nlp.meta.x0) == pytest.approx(STARTING_VALUES[name], rel=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(set(PROBLEMS) - {"logistic(tiny)"}))
def test_known_minimizer(name, backend):
    nlp = PROBLEMS[name](backend=backend)
    assert nlp.meta.dtype == "float64"
    assert nlp.obj(nlp.x_star) == pytest.approx(nlp.f_star, abs=1e-20)
    assert np.abs(host(nlp, nlp.grad(nlp.x_star))).max() <= 1e-9


def test_freudenstein_roth_local_minimizer():
    nlp = CLASSIC["freudenstein_roth"]()
    # MGH problem 2: a local minimizer with f = 48.9842...; x2 solves a cubic, found here by bisection.
    x2 = _bisect(lambda t: host(nlp, nlp.grad(device(nlp, [_fr_x1(t), t])))[1], -1.0, -0.8)
    x = device(nlp, [_fr_x1(x2), x2])
    assert nlp.obj(x) == pytest.approx(48.9842, abs=1e-4)
    assert np.abs(host(nlp, nlp.grad(x))).max() < 1e-6


def _fr_x1(x2):
    """The x1 minimizing f for fixed x2 (f is a quadratic in x1): x1 = -(r1 + r2) / 2 with x1 = 0."""
    r1 = -13.0 + ((5.0 - x2) * x2 - 2.0) * x2
    r2 = -29.0 + ((x2 + 1.0) * x2 - 14.0) * x2
    return -(r1 + r2) / 2.0


def _bisect(fn, a, b):
    fa = fn(a)
    for _ in range(200):
        m = (a + b) / 2
        if (fn(m) > 0) == (fa > 0):
            a, fa = m, fn(m)
        else:
            b = m
    return (a + b) / 2


def test_rosenbrock_sizes_and_starts():
    assert host(rosenbrock(), rosenbrock().meta.x0).tolist() == [-1.2, 1.0]
    chained = rosenbrock(5)
    assert host(chained, chained.meta.x0).tolist() == [-1.2, 1.0, -1.2, 1.0, -1.2]
    extended = extended_rosenbrock(6)
    x = device(extended, np.arange(6.0))
    pairs = [100 * (b - a * a) ** 2 + (1 - a) ** 2 for a, b in np.arange(6.0).reshape(3, 2)]
    assert extended.obj(x) == pytest.approx(sum(pairs))
    chain = [100 * (b - a * a) ** 2 + (1 - a) ** 2 for a, b in zip(np.arange(6.0)[:-1], np.arange(6.0)[1:])]
    assert rosenbrock(6).obj(device(extended, np.arange(6.0))) == pytest.approx(sum(chain))


def test_extended_powell_is_uncoupled_blocks():
    big, one = extended_powell(12), CLASSIC["powell_singular"]()
    x = np.random.default_rng(3).standard_normal(12)
    assert big.obj(x) == pytest.approx(sum(one.obj(block) for block in x.reshape(3, 4)))
    assert host(big, big.x_star).tolist() == [0.0] * 12


def test_quadratic_has_the_chosen_spectrum_and_is_reproducible():
    nlp = quadratic(8, 1e3, seed=4)
    hessian = np.stack([host(nlp, nlp.hprod(nlp.meta.x0, device(nlp, e))) for e in np.eye(8)])
    np.testing.assert_allclose(hessian, hessian.T, atol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(hessian), np.geomspace(1.0, 1e3, 8), rtol=1e-10)
    strict = quadratic(8, 1e3, seed=4, backend="array-api-strict")
    np.testing.assert_array_equal(host(strict, strict.hessian), host(nlp, nlp.hessian))
    np.testing.assert_array_equal(host(strict, strict.x_star), host(nlp, nlp.x_star))
    assert not np.array_equal(host(nlp, quadratic(8, 1e3, seed=5).hessian), host(nlp, nlp.hessian))
    assert quadratic(1, 1.0).obj(np.array([0.0])) >= 0.0


def _reference_logistic(dataset, x, l2):
    a = dataset.x.reshape(len(dataset), -1).astype(np.float64)
    c = len(dataset.classes)
    w, b = x[: c * a.shape[1]].reshape(c, -1), x[c * a.shape[1] :]
    z = a @ w.T + b
    return np.mean(logsumexp(z, axis=1) - z[np.arange(len(z)), dataset.y]) + l2 / 2 * x @ x


@pytest.mark.parametrize("backend", BACKENDS)
def test_logistic_regression_on_digits(backend):
    digits = datasets.load("digits")
    nlp = logistic_regression(digits, l2=0.0, backend=backend)
    assert nlp.meta.nvar == 10 * (64 + 1)
    assert nlp.obj(nlp.meta.x0) == pytest.approx(math.log(10.0), rel=1e-14)
    assert nlp.x_star is None and nlp.f_star is None
    x = np.random.default_rng(0).standard_normal(nlp.meta.nvar)
    assert nlp.obj(device(nlp, x)) == pytest.approx(_reference_logistic(digits, x, 0.0), rel=1e-12)
    v = np.random.default_rng(1).standard_normal(nlp.meta.nvar)
    fd = central_difference(lambda z: nlp.obj(device(nlp, z)), x, v, 1e-6)
    assert fd == pytest.approx(host(nlp, nlp.grad(device(nlp, x))) @ v, rel=1e-6)


def test_logistic_regression_on_any_dataset_and_large_logits():
    colour = tiny_dataset(n=12, shape=(3, 2, 2), classes=("no", "yes"), seed=1)
    nlp = logistic_regression(colour, l2=0.5)
    assert nlp.meta.nvar == 2 * 13
    x = 1e4 * np.random.default_rng(2).standard_normal(nlp.meta.nvar)
    f = nlp.obj(x)
    assert math.isfinite(f) and f == pytest.approx(_reference_logistic(colour, x, 0.5), rel=1e-12)
    assert np.all(np.isfinite(nlp.grad(x))) and np.all(np.isfinite(nlp.hprod(x, x)))
    single = logistic_regression(colour, l2=0.5, dtype="float32")
    assert math.isfinite(single.obj(x.astype(np.float32)))


# -- arguments ------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["rosenbrock", "woods", "quadratic"])
def test_bad_vectors_are_refused_and_change_nothing(name, backend):
    nlp = CLASSIC[name](backend=backend)
    x0 = nlp.meta.x0
    nlp.obj(x0)
    before = nlp.counters.as_dict()
    calls = {
        "x": [nlp.obj, nlp.grad, nlp.objgrad, lambda z: nlp.hprod(z, x0), nlp.hess_op],
        "v": [lambda z: nlp.hprod(x0, z)],
        "out": [lambda z: nlp.grad(x0, out=z), lambda z: nlp.objgrad(x0, out=z)],
    }
    for argument, fns in calls.items():
        for fault, bad in bad_vectors(nlp):
            for fn in fns:
                with pytest.raises(ValueError, match=rf"{argument} must .*{fault}"):
                    fn(bad)
    assert nlp.counters.as_dict() == before
    assert host(nlp, x0).tolist() == host(nlp, CLASSIC[name]().meta.x0).tolist()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: rosenbrock(1), "n must be >= 2"),
        (lambda: rosenbrock(2.5), "n must be an integer"),
        (lambda: extended_rosenbrock(3), "multiple of 2"),
        (lambda: extended_powell(6), "multiple of 4"),
        (lambda: quadratic(4, 0.5), "condition"),
        (lambda: quadratic(4, float("inf")), "condition"),
        (lambda: rosenbrock(dtype="float16"), "dtype"),
        (lambda: logistic_regression(TINY, l2=-1.0), "l2"),
        (lambda: logistic_regression(tiny_dataset(n=0)), "empty"),
    ],
)
def test_bad_problem_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_registry_builds_every_problem_on_every_backend_and_dtype():
    for name, make in CLASSIC.items():
        for backend in BACKENDS:
            for dtype in DTYPES:
                nlp = make(backend=backend, dtype=dtype)
                assert isinstance(nlp, NLPModel) and nlp.has_hprod
                assert nlp.meta.dtype == dtype and nlp.meta.backend.name == backend
                assert nlp.f_star == 0.0, name
