"""Gauss-Newton products of NeuralNetModel (float64): against a dense Jᵀ H_L J built column by column
from finite differences, symmetry, positive semi-definiteness, the Hessian of a model linear in its
parameters, the l2 term, sub-samples, parts of the batch and the counters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minidnn.datasets import Dataset
from minidnn.nlpmodels import NeuralNetModel
from probes import forward_passes, fresh_product_check

import minidnn as md
from minidnn import layers, losses, models, ops

LOSSES = ("softmax_cross_entropy", "mse", "binary_cross_entropy", "logistic")


def synthetic(n: int = 9, classes: int = 3, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1, 3, 3), dtype=np.float32)
    y = rng.integers(0, classes, n).astype(np.int64)
    return Dataset(x, y, tuple(str(c) for c in range(classes)), "synthetic", "train")


def tanh_net(seed: int = 0) -> md.Network:
    return models.mlp([9, 4, 3], activation="tanh", seed=seed)


def affine_net(seed: int = 0) -> md.Network:
    return md.Network(layers.Flatten(), layers.Dense(9, 3), seed=seed)


def model(net=tanh_net, loss="softmax_cross_entropy", n=9, **options) -> NeuralNetModel:
    options.setdefault("full_batch", True)
    options.setdefault("batch_size", n)
    return NeuralNetModel(net(), synthetic(n), loss=loss, dtype="float64", **options)


def targets(loss: str, labels: np.ndarray, classes: int = 3) -> np.ndarray:
    onehot = (labels[:, None] == np.arange(classes)).astype(np.float64)
    return {"softmax_cross_entropy": labels, "logistic": 2 * onehot - 1}.get(loss, onehot)


def outputs(nlp: NeuralNetModel, x: np.ndarray) -> np.ndarray:
    nlp.network.load(x)
    with md.no_grad():
        return nlp.network(md.Tensor(nlp.train_data.x.astype(np.float64)), check=False).data.copy()


def dense_gauss_newton(nlp: NeuralNetModel, x: np.ndarray, loss, labels: np.ndarray) -> np.ndarray:
    """Jᵀ H_L J: J one column per parameter by central differences of the outputs, H_L one column per
    output by central differences of the loss gradient with respect to the outputs (exact autodiff)."""
    h = 1e-6
    n = nlp.meta.nvar
    columns = []
    for j in range(n):
        e = np.zeros(n)
        e[j] = h
        columns.append(((outputs(nlp, x + e) - outputs(nlp, x - e)) / (2 * h)).ravel())
    jac = np.stack(columns, axis=1)
    z = outputs(nlp, x)

    def loss_grad(values: np.ndarray) -> np.ndarray:
        zt = md.Tensor(values.reshape(z.shape), requires_grad=True)
        return md.grad(loss(zt, labels), zt).data.ravel()

    hess = np.stack(
        [(loss_grad(z.ravel() + h * e) - loss_grad(z.ravel() - h * e)) / (2 * h) for e in np.eye(z.size)],
        axis=1,
    )
    return jac.T @ hess @ jac


def ghprod_matrix(nlp: NeuralNetModel, x: np.ndarray, **options) -> np.ndarray:
    return np.stack([nlp.ghprod(x, e, **options) for e in np.eye(nlp.meta.nvar)], axis=1)


def point(nlp: NeuralNetModel, seed: int) -> np.ndarray:
    return nlp.meta.x0 + 0.3 * np.random.default_rng(seed).standard_normal(nlp.meta.nvar)


def squared_softplus_margin(z: md.Tensor, labels) -> md.Tensor:
    """Mean of softplus(z_c - z_y + 1)^2: convex in z, with a nonzero Hessian."""
    xp = z.backend.xp
    onehot = md.Tensor(xp.astype(xp.reshape(labels, (-1, 1)) == z.backend.arange(z.shape[1]), z.dtype))
    return ops.mean(ops.softplus(z - ops.sum(z * onehot, axis=1, keepdims=True) + 1.0) ** 2)


@pytest.mark.parametrize("loss", LOSSES)
def test_ghprod_equals_a_dense_gauss_newton_matrix_built_column_by_column(loss):
    nlp = model(loss=loss)
    x = point(nlp, 1)
    expected = dense_gauss_newton(nlp, x, losses.get(loss), targets(loss, nlp.train_data.y))
    np.testing.assert_allclose(ghprod_matrix(nlp, x), expected, rtol=1e-5, atol=1e-8)


def test_ghprod_of_a_callable_loss_uses_its_exact_hessian_in_the_outputs():
    nlp = model(loss=squared_softplus_margin)
    x = point(nlp, 2)
    expected = dense_gauss_newton(nlp, x, squared_softplus_margin, nlp.train_data.y)
    np.testing.assert_allclose(ghprod_matrix(nlp, x), expected, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("loss", LOSSES)
@given(seed=st.integers(0, 2**16))
def test_ghprod_is_symmetric_and_positive_semidefinite(loss, seed):
    nlp = model(loss=loss, l2=0.0)
    rng = np.random.default_rng(seed)
    x = point(nlp, seed)
    u, v = rng.standard_normal((2, nlp.meta.nvar))
    gv, gu = nlp.ghprod(x, v), nlp.ghprod(x, u)
    assert u @ gv == pytest.approx(v @ gu, rel=1e-10, abs=1e-13)
    assert v @ gv >= -1e-13 and u @ gu >= -1e-13


def test_ghprod_is_the_hessian_for_a_model_linear_in_its_parameters_with_mse():
    nlp = model(affine_net, loss="mse", l2=0.25)
    x = point(nlp, 3)
    hessian = np.stack([nlp.hprod(x, e) for e in np.eye(nlp.meta.nvar)], axis=1)
    np.testing.assert_allclose(ghprod_matrix(nlp, x), hessian, rtol=1e-12, atol=1e-14)


def test_the_l2_term_adds_its_exact_hessian_as_in_hprod():
    plain, regular = model(l2=0.0), model(l2=0.7)
    x = point(plain, 4)
    v = np.random.default_rng(4).standard_normal(plain.meta.nvar)
    np.testing.assert_allclose(regular.ghprod(x, v) - plain.ghprod(x, v), 0.7 * v, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(regular.hprod(x, v) - plain.hprod(x, v), 0.7 * v, rtol=1e-12, atol=1e-14)


def test_a_sub_sample_is_the_first_samples_of_the_current_batch():
    data = synthetic(12)
    nlp = NeuralNetModel(tanh_net(), data, batch_size=8, shuffle=False, dtype="float64", l2=0.1)
    head = Dataset(data.x[:4], data.y[:4], data.classes, "head", "train")
    first = NeuralNetModel(tanh_net(), head, batch_size=4, full_batch=True, dtype="float64", l2=0.1)
    x = point(nlp, 5)
    v = np.random.default_rng(5).standard_normal(nlp.meta.nvar)
    np.testing.assert_allclose(nlp.ghprod(x, v, fraction=0.5), first.ghprod(x, v), rtol=1e-12)
    np.testing.assert_allclose(nlp.sample_hprod(x, v, 0.5), first.hprod(x, v), rtol=1e-12)
    np.testing.assert_allclose(nlp.sample_hprod(x, v, 1.0), nlp.hprod(x, v), rtol=0)
    np.testing.assert_allclose(nlp.ghprod(x, v, fraction=1.0), nlp.ghprod(x, v), rtol=0)


@pytest.mark.parametrize("full_batch", [False, True])
def test_objgrad_samples_is_the_mean_loss_over_those_samples(full_batch):
    data = synthetic(12)
    nlp = NeuralNetModel(
        tanh_net(), data, batch_size=8, shuffle=False, full_batch=full_batch, dtype="float64", l2=0.1
    )
    part = Dataset(data.x[2:6], data.y[2:6], data.classes, "part", "train")
    alone = NeuralNetModel(tanh_net(), part, batch_size=4, full_batch=True, dtype="float64", l2=0.1)
    x = point(nlp, 6)
    f, g = nlp.objgrad_samples(x, 2, 6)
    assert f == pytest.approx(alone.obj(x), rel=1e-13)
    np.testing.assert_allclose(g, alone.grad(x), rtol=1e-12)
    f_all, g_all = nlp.objgrad(x)
    (f_a, g_a), (f_b, g_b) = nlp.objgrad_samples(x, 0, 3), nlp.objgrad_samples(x, 3, nlp.batch_samples)
    weight = 3 / nlp.batch_samples
    assert weight * f_a + (1 - weight) * f_b == pytest.approx(f_all, rel=1e-13)
    np.testing.assert_allclose(weight * g_a + (1 - weight) * g_b, g_all, rtol=1e-12, atol=1e-15)


def test_products_and_parts_are_counted_and_check_their_arguments():
    nlp = model()
    x, v = nlp.meta.x0, np.ones(nlp.meta.nvar)
    out = np.empty(nlp.meta.nvar)
    assert nlp.ghprod(x, v, out) is out
    nlp.sample_hprod(x, v, 0.5)
    nlp.objgrad_samples(x, 0, 2)
    assert nlp.counters.as_dict() == {"neval_obj": 1, "neval_grad": 1, "neval_hprod": 1, "neval_ghprod": 1}
    with pytest.raises(ValueError, match="fraction in \\(0, 1\\]"):
        nlp.ghprod(x, v, fraction=0.0)
    with pytest.raises(ValueError, match="objgrad_samples needs integers"):
        nlp.objgrad_samples(x, 3, 3)
    with pytest.raises(ValueError, match="v must have shape"):
        nlp.ghprod(x, v[:-1])
    assert nlp.counters.neval_ghprod == 1


def test_products_at_one_point_reuse_the_linearisation_and_any_change_renews_it(monkeypatch):
    nlp = model(n=12, full_batch=False, batch_size=4, shuffle=False, fused=False)
    twin = model(n=12, full_batch=False, batch_size=4, shuffle=False, fused=False)
    x = point(nlp, 0)
    v = np.cos(np.arange(nlp.meta.nvar))
    calls = forward_passes(monkeypatch, nlp)
    same_as_fresh = fresh_product_check(nlp, twin, x, calls)

    same_as_fresh(v)
    assert len(calls) == 2  # the forward-mode pass and the forward pass with its graph
    same_as_fresh(2 * v + 1)
    assert len(calls) == 1  # the forward-mode pass only: same point, same samples
    x[0] += 0.5  # the caller changes x in place
    same_as_fresh(v)
    assert len(calls) == 2
    same_as_fresh(v, fraction=0.5)  # other samples
    assert len(calls) == 2
    nlp.next_minibatch()
    twin.next_minibatch()
    same_as_fresh(v, fraction=0.5)  # another batch
    assert len(calls) == 2
    nlp.obj(x)  # any other evaluation drops it
    same_as_fresh(v, fraction=0.5)
    assert len(calls) == 2


@pytest.mark.parametrize(("eval_batch_size", "second_call_passes"), [(9, 1), (4, 6)])
def test_the_linearisation_is_kept_only_for_a_batch_in_one_chunk(
    monkeypatch, eval_batch_size, second_call_passes
):
    nlp = model(eval_batch_size=eval_batch_size, fused=False)  # full batch of 9 samples: one chunk, or three
    x, v = point(nlp, 1), np.sin(np.arange(nlp.meta.nvar))
    calls = forward_passes(monkeypatch, nlp)
    first = nlp.ghprod(x, v)
    calls.clear()
    np.testing.assert_array_equal(nlp.ghprod(x, v), first)
    assert len(calls) == second_call_passes
