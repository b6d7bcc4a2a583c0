"""LBFGSModel and LSR1Model: secant properties on a quadratic, symmetry, the inverse, skip rules,
limited memory, scaling, pass-through to the wrapped model, argument checks."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minidnn.nlpmodels import LBFGSModel, LSR1Model, NLPModel, QuasiNewtonModel
from minidnn.nlpmodels.operator import DeviceLinearOperator
from minidnn.nlpmodels.problems import extended_rosenbrock, quadratic
from scipy.sparse.linalg import LinearOperator
from test_nlp_problems import BACKENDS, DTYPES, bad_vectors, check_contract, device, host, vectors

MODELS = [LBFGSModel, LSR1Model]
TOL = {"float64": 1e-9, "float32": 2e-3}


def matrix(qn):
    """The quasi-Newton matrix, column by column, on the host."""
    x = qn.meta.x0
    return np.stack([host(qn, qn.hprod(x, device(qn, e))) for e in np.eye(qn.meta.nvar)], axis=1)


def conjugate(a, vs):
    """Gram-Schmidt of the rows of vs in the inner product <p, q> = p' A q."""
    out = []
    for v in vs:
        for c in out:
            v = v - (c @ a @ v) / (c @ a @ c) * c
        out.append(v)
    return np.array(out)


def spd(n, rng, low=0.5, high=5.0):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * rng.uniform(low, high, n)) @ q.T


def random_pairs(cls, n, k, rng):
    """k pairs a model accepts: y = M s with M symmetric positive definite (any pair for SR1 alike)."""
    m = spd(n, rng)
    steps = rng.standard_normal((k, n))
    return [(s, m @ s) for s in steps]


def feed(qn, pairs):
    for s, y in pairs:
        assert qn.update(device(qn, s), device(qn, y))


# -- secant properties on a quadratic ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", MODELS)
@given(k=st.integers(1, 5), seed=st.integers(0, 2**32 - 1), scaling=st.booleans())
def test_reproduces_the_hessian_on_the_span_of_the_steps(cls, backend, dtype, k, seed, scaling):
    """After k <= mem updates B s_j = A s_j for every step: L-BFGS needs A-conjugate steps (the
    hereditary property of BFGS), SR1 holds for any independent steps."""
    rng = np.random.default_rng(seed)
    nlp = quadratic(8, 10.0, seed=seed % 1000, backend=backend, dtype=dtype)
    a = host(nlp, nlp.hessian)
    steps = rng.standard_normal((k, 8))
    if cls is LBFGSModel:
        steps = conjugate(a, steps)
    qn = cls(nlp, mem=5, scaling=scaling)
    feed(qn, [(s, a @ s) for s in steps])
    assert qn.npairs == k
    b = matrix(qn)
    combination = rng.standard_normal(k) @ steps
    for w in (*steps, combination):
        np.testing.assert_allclose(b @ w, a @ w, rtol=TOL[dtype], atol=TOL[dtype] * np.abs(a @ w).max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", MODELS)
@given(data=st.data())
def test_contract_symmetry_and_inverse(cls, backend, dtype, data):
    nlp = extended_rosenbrock(6, backend=backend, dtype=dtype)
    qn = cls(nlp, mem=5)
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    k = data.draw(st.integers(0, 8), label="pairs")
    be = nlp.meta.backend
    for s, y in random_pairs(cls, 6, k, np.random.default_rng(seed)):
        transfers = be.host_transfers
        assert qn.update(device(qn, s), device(qn, y))
        assert be.host_transfers - transfers == 1
    assert qn.npairs == min(k, 5)
    x = device(qn, data.draw(vectors(6, -2.0, 2.0), label="x"))
    v = device(qn, data.draw(vectors(6, -1.0, 1.0), label="v"))
    u = device(qn, data.draw(vectors(6, -1.0, 1.0), label="u"))
    check_contract(qn, x, v, u)
    b = matrix(qn)
    np.testing.assert_allclose(b, b.T, atol=TOL[dtype] * np.abs(b).max())
    if cls is LBFGSModel:
        transfers = be.host_transfers
        hv = qn.inverse_hprod(v)
        assert be.host_transfers == transfers and hv.dtype == v.dtype
        np.testing.assert_allclose(b @ host(qn, hv), host(qn, v), atol=TOL[dtype] * 10)
        hinv = np.stack([host(qn, qn.inverse_hprod(device(qn, e))) for e in np.eye(6)], axis=1)
        np.testing.assert_allclose(hinv @ b, np.eye(6), atol=TOL[dtype] * 10)


# -- skip rules -------------------------------------------------------------------------------------
def _assert_skipped(qn, s, y):
    before, npairs = matrix(qn), qn.npairs
    assert qn.update(device(qn, s), device(qn, y)) is False
    assert qn.npairs == npairs
    np.testing.assert_array_equal(matrix(qn), before)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("backend", BACKENDS)
def test_lbfgs_skips_pairs_without_safely_positive_curvature(backend):
    qn = LBFGSModel(extended_rosenbrock(4, backend=backend), mem=5)
    feed(qn, random_pairs(LBFGSModel, 4, 2, np.random.default_rng(0)))
    s, w = np.array([1.0, 0.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0, 0.0])
    _assert_skipped(qn, s, -s)
    _assert_skipped(qn, s, w)
    _assert_skipped(qn, s, w + 1e-10 * s)
    _assert_skipped(qn, np.zeros(4), w)
    _assert_skipped(qn, s, np.full(4, np.nan))
    _assert_skipped(qn, s, np.full(4, np.inf))
    assert qn.update(device(qn, s), device(qn, w + 1e-6 * s))
    assert qn.npairs == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_lsr1_skips_pairs_failing_the_ratio_test(backend):
    qn = LSR1Model(extended_rosenbrock(4, backend=backend), mem=5)
    feed(qn, random_pairs(LSR1Model, 4, 2, np.random.default_rng(1)))
    s, w = np.array([1.0, 0.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0, 0.0])
    bs = host(qn, qn.hprod(qn.meta.x0, device(qn, s)))
    _assert_skipped(qn, s, bs)
    _assert_skipped(qn, s, bs + w)
    _assert_skipped(qn, s, bs + w + 1e-9 * s)
    _assert_skipped(qn, s, np.full(4, np.nan))
    assert qn.update(device(qn, s), device(qn, bs + w + 1e-7 * s))
    assert qn.npairs == 3


# -- memory, reset, scaling -----------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", MODELS)
def test_limited_memory_keeps_the_newest_pairs(cls, backend):
    nlp = extended_rosenbrock(4, backend=backend)
    pairs = random_pairs(cls, 4, 6, np.random.default_rng(2))
    full, fresh = cls(nlp, mem=3), cls(nlp, mem=3)
    feed(full, pairs)
    feed(fresh, pairs[-3:])
    assert full.npairs == 3
    np.testing.assert_allclose(matrix(full), matrix(fresh), rtol=1e-12, atol=1e-12)
    full.reset()
    assert full.npairs == 0
    np.testing.assert_array_equal(matrix(full), np.eye(4))
    feed(full, pairs[:1])
    assert full.npairs == 1


@pytest.mark.parametrize("cls", MODELS)
def test_scaling_sets_the_initial_matrix(cls):
    s, y = np.array([1.0, 2.0, 0.0, 0.0]), np.array([3.0, 2.0, 0.0, 0.0])
    v = np.array([0.0, 0.0, 1.0, -2.0])
    sigma = (y @ y) / (s @ y)
    for scaling, expected in ((True, sigma * v), (False, v)):
        qn = cls(extended_rosenbrock(4), scaling=scaling)
        np.testing.assert_array_equal(matrix(qn), np.eye(4))
        feed(qn, [(s, y)])
        np.testing.assert_allclose(matrix(qn) @ v, expected, rtol=1e-14)
        np.testing.assert_allclose(matrix(qn) @ s, y, rtol=1e-14)


@pytest.mark.parametrize("cls", MODELS)
def test_update_copies_its_arguments_and_hprod_ignores_x(cls):
    qn = cls(extended_rosenbrock(4))
    s, y = random_pairs(cls, 4, 1, np.random.default_rng(3))[0]
    s_dev, y_dev = device(qn, s), device(qn, y)
    qn.update(s_dev, y_dev)
    before = matrix(qn)
    s_dev[...] = 0.0
    y_dev[...] = 0.0
    np.testing.assert_array_equal(matrix(qn), before)
    v = device(qn, [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(qn.hprod(qn.meta.x0, v), qn.hprod(device(qn, np.ones(4)), v))


# -- wrapping ---------------------------------------------------------------------------------------
class Stochastic(NLPModel):
    """f(x) = batch * ||x||^2 / 2 with a batch counter and no Hessian product of its own."""

    def __init__(self):
        super().__init__(np.zeros(3), name="stochastic", dtype="float64")
        self.epoch = 0

    def _obj(self, x):
        return self.meta.backend.to_float(self.batch_version * (x @ x) / 2)

    def _grad(self, x):
        return self.batch_version * x

    def next_minibatch(self):
        self.batch_version += 1
        self.epoch = self.batch_version // 2
        return self.epoch * 2 == self.batch_version

    def accuracy(self, x=None, split="test"):
        return 0.5


@pytest.mark.parametrize("cls", MODELS)
def test_pass_through_and_delegation(cls):
    nlp = Stochastic()
    qn = cls(nlp)
    assert isinstance(qn, QuasiNewtonModel) and qn.has_hprod and not nlp.has_hprod
    assert qn.meta is nlp.meta and qn.counters is nlp.counters
    x = np.array([1.0, 2.0, 3.0])
    assert qn.next_minibatch() is False
    assert qn.batch_version == nlp.batch_version == 1 and qn.epoch == 0
    qn.next_minibatch()
    assert qn.batch_version == 2 and qn.epoch == 1 and qn.accuracy() == 0.5
    assert qn.obj(x) == nlp.obj(x) == 14.0
    np.testing.assert_array_equal(qn.grad(x), 2 * x)
    f, g = qn.objgrad(x)
    assert f == 14.0 and np.array_equal(g, 2 * x)
    qn.hprod(x, x)
    assert nlp.counters.as_dict() == {"neval_obj": 3, "neval_grad": 2, "neval_hprod": 1, "neval_ghprod": 0}
    qn.reset_counters()
    assert nlp.counters.as_dict() == {"neval_obj": 0, "neval_grad": 0, "neval_hprod": 0, "neval_ghprod": 0}
    nlp._private = 1
    assert not hasattr(qn, "no_such_attribute") and not hasattr(qn, "_private")
    assert "mem=5" in repr(qn)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", MODELS)
def test_operators(cls, backend):
    qn = cls(extended_rosenbrock(4, backend=backend))
    feed(qn, random_pairs(cls, 4, 2, np.random.default_rng(4)))
    kind = LinearOperator if backend == "numpy" else DeviceLinearOperator
    v = device(qn, [1.0, -1.0, 2.0, 0.5])
    op = qn.hess_op(qn.meta.x0)
    assert isinstance(op, kind)
    np.testing.assert_allclose(host(qn, op @ v), host(qn, qn.hprod(qn.meta.x0, v)), rtol=1e-15)
    if cls is LBFGSModel:
        inverse = qn.inverse_op()
        assert isinstance(inverse, kind) and inverse.shape == (4, 4)
        np.testing.assert_allclose(host(qn, inverse @ v), host(qn, qn.inverse_hprod(v)), rtol=1e-15)
    else:
        assert not hasattr(qn, "inverse_hprod")


# -- arguments ------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", MODELS)
def test_bad_vectors_are_refused_and_change_nothing(cls, backend):
    qn = cls(extended_rosenbrock(4, backend=backend))
    feed(qn, random_pairs(cls, 4, 2, np.random.default_rng(5)))
    before, counters = matrix(qn), qn.counters.as_dict()
    good = device(qn, np.ones(4))
    calls = {
        "s": [lambda z: qn.update(z, good)],
        "y": [lambda z: qn.update(good, z)],
        "v": [lambda z: qn.hprod(good, z)],
        "x": [lambda z: qn.hprod(z, good), qn.obj, qn.grad],
    }
    if cls is LBFGSModel:
        calls["v"].append(qn.inverse_hprod)
        calls["out"] = [lambda z: qn.inverse_hprod(good, out=z), lambda z: qn.hprod(good, good, out=z)]
    for argument, fns in calls.items():
        for fault, bad in bad_vectors(qn):
            for fn in fns:
                with pytest.raises(ValueError, match=rf"{argument} must .*{fault}"):
                    fn(bad)
    assert qn.npairs == 2 and qn.counters.as_dict() == counters
    np.testing.assert_array_equal(matrix(qn), before)


@pytest.mark.parametrize("cls", MODELS)
def test_bad_constructor_arguments(cls):
    nlp = extended_rosenbrock(4)
    for mem in (0, -1, 2.5, True, "5"):
        with pytest.raises(ValueError, match="mem"):
            cls(nlp, mem=mem)
    with pytest.raises(TypeError, match="NLPModel"):
        cls("rosenbrock")
