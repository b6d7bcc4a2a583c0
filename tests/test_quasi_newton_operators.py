"""LBFGSOperator, InverseLBFGSOperator and LSR1Operator: each against the dense matrix of the same
pairs (float64 recursions), skip rules, the ring past ``mem`` pairs, inverse times forward, reset,
dtype, host transfers, bad input; and how solvers see quasi-Newton models."""

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minidnn.nlpmodels import (
    InverseLBFGSOperator,
    LBFGSModel,
    LBFGSOperator,
    LSR1Model,
    LSR1Operator,
    NLPModel,
)
from minidnn.nlpmodels.problems import rosenbrock
from minidnn.nlpmodels.secant_rules import SR1_SKIP_RATIO

from minidnn import backend as backends
from minidnn import solvers

BACKENDS = ["numpy", "array-api-strict"]
DTYPES = ["float64", "float32"]
OPERATORS = [LBFGSOperator, InverseLBFGSOperator, LSR1Operator]
TOL = {"float64": 1e-9, "float32": 2e-3}
ROOT = Path(__file__).resolve().parents[1]


def to_device(op, a):
    return op.backend.to_device(np.asarray(a, dtype=np.float64), dtype=op.dtype_name)


def to_host(op, a):
    return np.array(op.backend.to_host(a), dtype=np.float64)


def matrix(op):
    """The operator, column by column, on the host."""
    n = op.shape[0]
    return np.stack([to_host(op, op.matvec(to_device(op, e))) for e in np.eye(n)], axis=1)


def symmetric(n, rng, low, high):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * rng.uniform(low, high, n)) @ q.T


def random_pairs(n, k, rng, definite=True):
    """k pairs y = A_i s with a fresh symmetric A_i each (positive definite, or with eigenvalues of both
    signs): no single quadratic, so no pair is reproduced exactly by the pairs before it."""
    low, high = (0.5, 5.0) if definite else (-3.0, 5.0)
    pairs = []
    for _ in range(k):
        s = rng.standard_normal(n)
        pairs.append((s, symmetric(n, rng, low, high) @ s))
    return pairs


def rounded(op, pairs):
    """The pairs as the operator sees them: rounded to its dtype, back in float64."""
    dtype = np.float32 if op.dtype_name == "float32" else np.float64
    return [(s.astype(dtype).astype(np.float64), y.astype(dtype).astype(np.float64)) for s, y in pairs]


# -- dense float64 references ------------------------------------------------------------------------
def bfgs_dense(pairs, sigma, n):
    """B_i = B_{i-1} - b b' / (s'b) + y y' / (y's), b = B_{i-1} s, from B0 = sigma I."""
    b_mat = sigma * np.eye(n)
    for s, y in pairs:
        b = b_mat @ s
        b_mat = b_mat - np.outer(b, b) / (s @ b) + np.outer(y, y) / (y @ s)
    return b_mat


def inverse_bfgs_dense(pairs, sigma, n):
    """H_i = (I - rho s y') H_{i-1} (I - rho y s') + rho s s', H0 = I / sigma (Nocedal & Wright (6.17))."""
    h = np.eye(n) / sigma
    for s, y in pairs:
        rho = 1.0 / (y @ s)
        v = np.eye(n) - rho * np.outer(y, s)
        h = v.T @ h @ v + rho * np.outer(s, s)
    return h


def sr1_keeps(s, u):
    d = s @ u
    return abs(d) >= SR1_SKIP_RATIO * np.linalg.norm(s) * np.linalg.norm(u) and d != 0.0


def sr1_dense(pairs, sigma, n):
    """B_i = B_{i-1} + u u' / (u's), u = y - B_{i-1} s, a pair failing the ratio test left out."""
    b_mat = sigma * np.eye(n)
    for s, y in pairs:
        u = y - b_mat @ s
        if sr1_keeps(s, u):
            b_mat = b_mat + np.outer(u, u) / (u @ s)
    return b_mat


def safely_positive(s, y, dtype):
    margin = np.sqrt(np.finfo(dtype).eps)
    return s @ y > margin * np.linalg.norm(s) * np.linalg.norm(y)


def replay(cls, pairs, mem, scaling, dtype):
    """The documented semantics in float64: which pushes are stored, and the final matrix."""
    n = pairs[0][0].shape[0]
    build = {LBFGSOperator: bfgs_dense, InverseLBFGSOperator: inverse_bfgs_dense, LSR1Operator: sr1_dense}[
        cls
    ]
    stored, sigma, verdicts = [], 1.0, []
    for s, y in pairs:
        if cls is LSR1Operator:
            accepted = sr1_keeps(s, y - sr1_dense(stored, sigma, n) @ s)
        else:
            accepted = safely_positive(s, y, dtype)
        verdicts.append(accepted)
        if accepted:
            stored = (stored + [(s, y)])[-mem:]
            if scaling and safely_positive(s, y, dtype):
                sigma = (y @ y) / (s @ y)
    return verdicts, build(stored, sigma, n)


# -- each operator against its dense matrix ----------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", OPERATORS)
@given(k=st.integers(1, 8), seed=st.integers(0, 2**32 - 1), scaling=st.booleans())
def test_matches_the_dense_recursion_of_the_same_pairs(cls, backend, dtype, k, seed, scaling):
    """Up to 8 pairs into a memory of 3: the ring wraps around and keeps the newest pairs."""
    op = cls(6, mem=3, scaling=scaling, dtype=dtype, backend=backend)
    pairs = rounded(op, random_pairs(6, k, np.random.default_rng(seed), definite=cls is not LSR1Operator))
    verdicts, expected = replay(cls, pairs, 3, scaling, dtype)
    assert [op.push(to_device(op, s), to_device(op, y)) for s, y in pairs] == verdicts
    assert op.npairs == min(sum(verdicts), 3)
    got = matrix(op)
    np.testing.assert_allclose(got, expected, atol=TOL[dtype] * np.abs(expected).max())
    np.testing.assert_allclose(got, got.T, atol=TOL[dtype] * np.abs(expected).max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@given(k=st.integers(0, 8), seed=st.integers(0, 2**32 - 1))
def test_inverse_times_forward_is_the_identity(backend, dtype, k, seed):
    forward = LBFGSOperator(6, mem=4, dtype=dtype, backend=backend)
    inverse = InverseLBFGSOperator(6, mem=4, dtype=dtype, backend=backend)
    for s, y in random_pairs(6, k, np.random.default_rng(seed)):
        assert forward.push(to_device(forward, s), to_device(forward, y))
        assert inverse.push(to_device(inverse, s), to_device(inverse, y))
    v = to_device(forward, np.random.default_rng(seed).standard_normal(6))
    np.testing.assert_allclose(
        to_host(forward, inverse @ (forward @ v)), to_host(forward, v), atol=TOL[dtype] * 10
    )
    np.testing.assert_allclose(
        to_host(forward, forward.solve(forward @ v)), to_host(forward, v), atol=TOL[dtype] * 10
    )
    np.testing.assert_allclose(to_host(forward, forward.solve(v)), to_host(forward, inverse @ v), rtol=1e-12)


@pytest.mark.parametrize("cls", OPERATORS)
def test_the_ring_keeps_the_newest_pairs(cls):
    pairs = random_pairs(5, 7, np.random.default_rng(2))
    full, fresh = cls(5, mem=3, dtype="float64"), cls(5, mem=3, dtype="float64")
    for s, y in pairs:
        full.push(s, y)
    for s, y in pairs[-3:]:
        fresh.push(s, y)
    assert full.npairs == 3 and full.pairs.order() == [1, 2, 0]
    np.testing.assert_allclose(matrix(full), matrix(fresh), rtol=1e-10, atol=1e-10)


# -- skip rules -------------------------------------------------------------------------------------
def assert_skipped(op, s, y):
    before, npairs, rows = matrix(op), op.npairs, to_host(op, op.pairs.rows).copy()
    assert op.push(to_device(op, s), to_device(op, y)) is False
    assert op.npairs == npairs
    np.testing.assert_array_equal(to_host(op, op.pairs.rows), rows)
    np.testing.assert_array_equal(matrix(op), before)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", [LBFGSOperator, InverseLBFGSOperator])
def test_bfgs_operators_skip_pairs_without_safely_positive_curvature(cls, backend):
    op = cls(4, dtype="float64", backend=backend)
    for s, y in random_pairs(4, 2, np.random.default_rng(0)):
        op.push(to_device(op, s), to_device(op, y))
    s, w = np.array([1.0, 0.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0, 0.0])
    assert_skipped(op, s, -s)
    assert_skipped(op, s, w)
    assert_skipped(op, s, w + 1e-10 * s)  # s'y / (|s| |y|) = 1e-10 < sqrt(eps) = 1.5e-8
    assert_skipped(op, np.zeros(4), w)
    assert op.push(to_device(op, s), to_device(op, w + 1e-6 * s))
    assert op.npairs == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_lsr1_skips_pairs_failing_the_ratio_test(backend):
    op = LSR1Operator(4, dtype="float64", backend=backend)
    for s, y in random_pairs(4, 2, np.random.default_rng(1), definite=False):
        op.push(to_device(op, s), to_device(op, y))
    s, w = np.array([1.0, 0.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0, 0.0])
    bs = to_host(op, op @ to_device(op, s))
    assert_skipped(op, s, bs)  # u = 0: B already satisfies the pair
    assert_skipped(op, s, bs + w)  # s'u = 0
    assert_skipped(op, s, bs + w + 1e-9 * s)  # |s'u| = 1e-9 |s| |u| < 1e-8 |s| |u|
    assert op.push(to_device(op, s), to_device(op, bs + w + 1e-7 * s))
    assert op.npairs == 3


def test_lsr1_leaves_out_a_stored_pair_that_fails_the_test_after_the_ring_moves():
    """(s2, y2) passes the test against B1 (s2'u = -1) but not against I once (s1, y1) is dropped
    (s2'(y2 - s2) = 0): it then gets no weight, as in the recursion, and B stays finite."""
    s1, y1 = np.array([1.0, 0.0, 0.0]), np.array([2.0, 1.0, 0.0])
    s2, y2 = np.array([0.0, 1.0, 0.0]), np.array([0.0, 1.0, 5.0])
    s3, y3 = np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, 3.0])
    op = LSR1Operator(3, mem=2, scaling=False, dtype="float64")
    for s, y in ((s1, y1), (s2, y2), (s3, y3)):
        assert op.push(s, y)
    assert op.npairs == 2
    np.testing.assert_allclose(matrix(op), np.diag([1.0, 1.0, 3.0]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(matrix(op), sr1_dense([(s2, y2), (s3, y3)], 1.0, 3), rtol=1e-12, atol=1e-12)


# -- reset, dtype, transfers ------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", OPERATORS)
def test_reset_forgets_every_pair(cls, backend):
    op = cls(4, mem=2, dtype="float64", backend=backend)
    pairs = random_pairs(4, 3, np.random.default_rng(3))
    for s, y in pairs:
        op.push(to_device(op, s), to_device(op, y))
    op.reset()
    assert op.npairs == 0
    np.testing.assert_array_equal(matrix(op), np.eye(4))
    s, y = pairs[0]
    assert op.push(to_device(op, s), to_device(op, y)) and op.npairs == 1
    fresh = cls(4, mem=2, dtype="float64", backend=backend)
    fresh.push(to_device(fresh, s), to_device(fresh, y))
    np.testing.assert_allclose(matrix(op), matrix(fresh), rtol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", OPERATORS)
def test_float32_stays_float32_and_one_transfer_per_push(cls, backend):
    op = cls(5, mem=3, backend=backend)
    assert op.dtype_name == "float32" and op.pairs.rows.dtype == op.dtype
    be = op.backend
    for s, y in random_pairs(5, 4, np.random.default_rng(4)):
        transfers = be.host_transfers
        op.push(to_device(op, s), to_device(op, y))
        assert be.host_transfers == transfers + 1
    transfers = be.host_transfers
    v = to_device(op, np.ones(5))
    out = to_device(op, np.zeros(5))
    assert op.matvec(v).dtype == op.dtype and (op @ v).dtype == op.dtype
    assert op.matvec(v, out=out) is out
    if cls is LBFGSOperator:
        assert op.solve(v).dtype == op.dtype
    assert be.host_transfers == transfers


# -- bad input --------------------------------------------------------------------------------------
def bad_vectors(op):
    n = op.shape[0]
    other_dtype = "float64" if op.dtype_name == "float32" else "float32"
    other_backend = "array-api-strict" if op.backend.name == "numpy" else "numpy"
    return [
        ("shape", to_device(op, np.zeros(n + 1))),
        ("shape", to_device(op, np.zeros((1, n)))),
        ("dtype", op.backend.to_device(np.zeros(n), dtype=other_dtype)),
        ("backend", backends.get(other_backend).to_device(np.zeros(n), dtype=op.dtype_name)),
        ("backend", [0.0] * n),
    ]


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", OPERATORS)
def test_bad_vectors_are_refused_before_anything_changes(cls, backend):
    op = cls(4, mem=3, backend=backend)
    for s, y in random_pairs(4, 2, np.random.default_rng(5)):
        op.push(to_device(op, s), to_device(op, y))
    before, rows = matrix(op), to_host(op, op.pairs.rows).copy()
    good = to_device(op, np.ones(4))
    calls = {
        "s": [lambda z: op.push(z, good)],
        "y": [lambda z: op.push(good, z)],
        "v": [op.matvec],
        "out": [lambda z: op.matvec(good, out=z)],
    }
    if cls is LBFGSOperator:
        calls["v"].append(op.solve)
        calls["out"].append(lambda z: op.solve(good, out=z))
    for argument, fns in calls.items():
        for fault, bad in bad_vectors(op):
            for fn in fns:
                with pytest.raises(ValueError, match=rf"{cls.__name__}: {argument} must .*{fault}"):
                    fn(bad)
    for value in (np.nan, np.inf, -np.inf):
        poisoned = to_device(op, [1.0, value, 0.0, 0.0])
        with pytest.raises(ValueError, match=rf"{cls.__name__}: s must be finite"):
            op.push(poisoned, good)
        with pytest.raises(ValueError, match=rf"{cls.__name__}: y must be finite"):
            op.push(good, poisoned)
        assert op.push(good, poisoned, skip_nonfinite=True) is False
    assert op.npairs == 2
    np.testing.assert_array_equal(to_host(op, op.pairs.rows), rows)
    np.testing.assert_array_equal(matrix(op), before)


@pytest.mark.parametrize("cls", OPERATORS)
def test_bad_constructor_arguments(cls):
    for name, value in (("n", 0), ("n", 2.0), ("mem", 0), ("mem", True), ("mem", "5")):
        with pytest.raises(ValueError, match=rf"{cls.__name__}: {name} must be an integer >= 1"):
            cls(**{"n": 3, "mem": 2, name: value})
    with pytest.raises(ValueError, match="dtype"):
        cls(3, dtype="float16")
    with pytest.raises(ValueError, match="backend"):
        cls(3, backend="no-such-backend")


# -- models and solvers -----------------------------------------------------------------------------
def test_models_are_thin_over_their_operator():
    nlp = rosenbrock()
    for model, kind, rule in ((LBFGSModel(nlp, mem=3), LBFGSOperator, "accepted_steps"),
                              (LSR1Model(nlp, mem=3), LSR1Operator, "every_trial")):  # fmt: skip
        assert type(model.operator) is kind and model.learns_from == rule
        assert model.mem == model.operator.mem == 3 and model.scaling is True
        assert model.operator.shape == (2, 2) and model.operator.dtype_name == nlp.meta.dtype
        for name in ("next_minibatch", "epoch", "batches_per_epoch", "accuracy", "set_batch_size"):
            assert not hasattr(model, name), name
        assert model.batch_version == 0
        np.testing.assert_array_equal(model.x_star, nlp.x_star)


def test_solvers_never_switch_on_a_model_class():
    pattern = re.compile(r"isinstance\([^)]*Model")
    offenders = [
        f"{path.name}:{number}"
        for path in sorted((ROOT / "solvers").glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_trunk_offers_a_bfgs_model_only_the_accepted_steps():
    offered = []

    class Recording(LBFGSModel):
        def update(self, s, y):
            offered.append(1)
            return super().update(s, y)

    stats = solvers.trunk(Recording(rosenbrock()), atol=1e-6, rtol=0.0)
    accepted = sum(1 for r in stats.history["ratio"][1:] if r is not None and r >= 1e-4)
    rejected = sum(1 for r in stats.history["ratio"][1:] if r is not None and r < 1e-4)
    assert stats.status == "first_order" and rejected > 0
    assert len(offered) == accepted


def test_a_model_that_declares_no_learning_is_never_updated():
    class Exact(NLPModel):
        """f(x) = ||x||^2 / 2 with its Hessian; an ``update`` that must never be called."""

        def __init__(self):
            super().__init__(np.array([1.0, -2.0]), name="exact", dtype="float64")

        def _obj(self, x):
            return self.meta.backend.to_float(x @ x / 2)

        def _grad(self, x):
            return x

        def _hprod(self, x, v):
            return v

        def update(self, s, y):
            raise AssertionError("update called on a model without learns_from")

    assert solvers.trunk(Exact()).status == "first_order"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_singular_small_system_falls_back_to_the_pseudo_inverse(backend):
    op = LSR1Operator(3, dtype="float64", backend=backend)
    singular = to_device(op, [[1.0, 1.0], [1.0, 1.0]])
    solution = op._solve(singular, to_device(op, [2.0, 2.0]))
    np.testing.assert_allclose(to_host(op, solution), [1.0, 1.0], rtol=1e-12)


def test_the_update_benchmark_runs_at_a_tiny_size(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # the scripts import their timing helpers
    spec = importlib.util.spec_from_file_location(
        "quasi_newton_update", ROOT / "benchmarks/quasi_newton_update.py"
    )
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    saved = tmp_path / "results.json"
    argv = ["--n", "64", "--mem", "3", "--repeats", "4", "--threads", "1", "--json", str(saved)]
    output = benchmark.main(argv)
    assert json.loads(saved.read_text()) == json.loads(json.dumps(output))
    results = output["results"]
    assert results["n"] == 64 and results["mem"] == 3
    for name in ("inverse_lbfgs", "lbfgs", "lsr1"):
        timing = results[name]
        assert timing["update_s"] > 0 and timing["product_s"] > 0 and timing["stored_fraction"] == 1.0
        assert timing["ratio"] == timing["update_s"] / timing["product_s"]
