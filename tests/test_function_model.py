"""FunctionModel: plain functions as an NLPModel, solved by the solvers, with the contract's checks."""

from __future__ import annotations

import numpy as np
import pytest
from minidnn.nlpmodels import FunctionModel, LSR1Model, to_scipy
from minidnn.nlpmodels.problems import rosenbrock
from scipy.optimize import minimize

from minidnn import backend, solvers


def rosen(x):
    return float(100.0 * (x[1] - x[0] ** 2) ** 2 + (1.0 - x[0]) ** 2)


def rosen_grad(x):
    return np.array([-400.0 * x[0] * (x[1] - x[0] ** 2) - 2.0 * (1.0 - x[0]), 200.0 * (x[1] - x[0] ** 2)])


def rosen_hprod(x, v):
    h = np.array([[1200.0 * x[0] ** 2 - 400.0 * x[1] + 2.0, -400.0 * x[0]], [-400.0 * x[0], 200.0]])
    return h @ v


START = np.array([-1.2, 1.0])


def test_lbfgs_solves_rosenbrock_given_as_plain_functions():
    nlp = FunctionModel(rosen, START, grad=rosen_grad, name="rosenbrock")
    stats = solvers.lbfgs(nlp, max_iter=200)
    assert stats.status == "first_order"
    np.testing.assert_allclose(stats.solution, [1.0, 1.0], atol=1e-6)
    assert stats.counters["neval_obj"] == nlp.counters.neval_obj > 0
    assert nlp.counters.neval_hprod == 0


def test_trunk_solves_rosenbrock_with_exact_hessian_products():
    nlp = FunctionModel(rosen, START, grad=rosen_grad, hprod=rosen_hprod)
    stats = solvers.trunk(nlp, max_iter=100)
    assert stats.status == "first_order"
    np.testing.assert_allclose(stats.solution, [1.0, 1.0], atol=1e-6)
    assert nlp.counters.neval_hprod > 0
    reference = solvers.trunk(rosenbrock(), max_iter=100)
    assert stats.iter == reference.iter


def test_objgrad_alone_serves_both_calls_and_counts_once_per_call():
    calls = []

    def objgrad(x):
        calls.append("objgrad")
        return rosen(x), rosen_grad(x)

    nlp = FunctionModel(rosen, START, objgrad=objgrad)
    f, g = nlp.objgrad(START)
    assert f == pytest.approx(24.2) and g.shape == (2,)
    np.testing.assert_array_equal(nlp.grad(START), rosen_grad(START))
    assert calls == ["objgrad", "objgrad"]
    assert nlp.counters.as_dict() == {"neval_obj": 1, "neval_grad": 2, "neval_ghprod": 0, "neval_hprod": 0}
    assert solvers.lbfgs(nlp, max_iter=200).status == "first_order"


def test_the_contract_copies_x0_writes_out_and_converts_results():
    x0 = START.copy()
    nlp = FunctionModel(rosen, x0, grad=lambda x: list(rosen_grad(x)), hprod=rosen_hprod, dtype="float32")
    x0[0] = 7.0
    assert nlp.meta.x0.tolist() == pytest.approx([-1.2, 1.0]) and nlp.meta.dtype == "float32"
    x = nlp.meta.x0.copy()
    out = np.zeros(2, np.float32)
    assert nlp.grad(x, out=out) is out and out.dtype == np.float32
    np.testing.assert_allclose(out, rosen_grad(START), rtol=1e-6)
    hv = nlp.hprod(x, np.ones(2, np.float32))
    assert hv.dtype == np.float32
    assert nlp.has_hprod and nlp.hess_op(x).shape == (2, 2)
    assert repr(nlp) == "FunctionModel('function', nvar=2, dtype=float32)"


def test_on_the_strict_device_the_functions_get_device_vectors():
    be = backend.get("array-api-strict")
    xp = be.xp

    def fun(x):
        return xp.sum(x * x)

    nlp = FunctionModel(fun, be.to_device(np.ones(3)), grad=lambda x: 2 * x, backend=be, dtype="float64")
    x = nlp.meta.x0
    assert nlp.obj(x) == 3.0 and be.owns(nlp.grad(x))
    assert solvers.lbfgs(nlp, max_iter=20).status == "first_order"


def test_without_hprod_trunk_refuses_before_evaluating_and_hprod_says_what_to_pass():
    nlp = FunctionModel(rosen, START, grad=rosen_grad)
    assert not nlp.has_hprod
    with pytest.raises(ValueError, match="has no Hessian-vector product"):
        solvers.trunk(nlp)
    assert nlp.counters.as_dict() == {"neval_obj": 0, "neval_grad": 0, "neval_ghprod": 0, "neval_hprod": 0}
    with pytest.raises(NotImplementedError, match=r"pass hprod=\(x, v\) -> H\(x\) v"):
        nlp.hprod(START, START)
    assert solvers.trunk(LSR1Model(nlp), max_iter=200).status == "first_order"
    assert "hessp" not in to_scipy(nlp)


def test_scipy_solves_a_function_model():
    nlp = FunctionModel(rosen, START, grad=rosen_grad, hprod=rosen_hprod)
    result = minimize(method="trust-ncg", **to_scipy(nlp))
    assert result.success
    np.testing.assert_allclose(result.x, [1.0, 1.0], atol=1e-6)


def test_bad_construction_is_refused_with_the_reason():
    with pytest.raises(TypeError, match="pass grad=.* or objgrad="):
        FunctionModel(rosen, START)
    with pytest.raises(TypeError, match="hprod must be callable"):
        FunctionModel(rosen, START, grad=rosen_grad, hprod=3)
    with pytest.raises(TypeError, match="fun must be callable"):
        FunctionModel("rosen", START, grad=rosen_grad)
    with pytest.raises(TypeError, match="fun is required"):
        FunctionModel(None, START, grad=rosen_grad)
    with pytest.raises(ValueError, match="x0 must be a vector"):
        FunctionModel(rosen, np.ones((2, 2)), grad=rosen_grad)


def test_bad_arguments_and_bad_results_name_what_was_wrong():
    nlp = FunctionModel(rosen, START, grad=lambda x: np.ones(3), hprod=lambda x, v: "no")
    with pytest.raises(ValueError, match="x must have shape"):
        nlp.obj(np.ones(3))
    with pytest.raises(ValueError, match="x must have dtype float64"):
        nlp.obj(np.ones(2, np.float32))
    with pytest.raises(ValueError, match=r"grad returned shape \(3,\), expected \(2,\)"):
        nlp.grad(START)
    with pytest.raises(TypeError, match="hprod must return a vector, got str"):
        nlp.hprod(START, START)
    bad_value = FunctionModel(lambda x: x, START, grad=rosen_grad)
    with pytest.raises(TypeError, match=r"fun must return a real number, got ndarray of shape \(2,\)"):
        bad_value.obj(START)
    bad_pair = FunctionModel(rosen, START, objgrad=lambda x: rosen(x))
    with pytest.raises(TypeError, match=r"objgrad must return a pair \(f, gradient\)"):
        bad_pair.objgrad(START)


def test_non_finite_values_pass_through_for_the_solvers_to_judge():
    nlp = FunctionModel(lambda x: float("nan"), START, grad=lambda x: np.full(2, np.inf))
    assert np.isnan(nlp.obj(START)) and np.isinf(nlp.grad(START)).all()
    stats = solvers.lbfgs(nlp)
    assert stats.status == "exception"
    np.testing.assert_array_equal(stats.solution, START)
