"""Losses: values against float64 references, extreme logits, derivatives, accuracy, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import log_softmax as reference_log_softmax

import minidnn as md
from minidnn import backend, losses
from minidnn.gradcheck import check_grad, check_hvp
from minidnn.testing import arrays


def _labels(draw, n, c):
    return np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)


@given(data=st.data())
def test_cross_entropy_matches_a_float64_formula(data):
    n, c = data.draw(st.integers(1, 8)), data.draw(st.integers(1, 6))
    z = data.draw(arrays((n, c), -30.0, 30.0))
    y = _labels(data.draw, n, c)
    expected = -reference_log_softmax(z, axis=1)[np.arange(n), y].mean()
    for dtype, rtol in (("float64", 1e-12), ("float32", 1e-5)):
        got = losses.softmax_cross_entropy(z.astype(dtype), y).data
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-6)


def test_cross_entropy_is_finite_and_exact_at_extreme_logits():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [0.0, 1e4, 1e4]], np.float32)
    y = np.array([1, 2, 0])
    t = md.Tensor(z, requires_grad=True)
    loss = losses.softmax_cross_entropy(t, y)
    expected = (2e4 + np.log(3.0) + (1e4 + np.log(2.0))) / 3
    np.testing.assert_allclose(loss.data, expected, rtol=1e-6)
    g = md.grad(loss, t).data
    softmax = np.array([[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0, 0.5, 0.5]])
    onehot = np.eye(3)[y]
    np.testing.assert_allclose(g, (softmax - onehot) / 3, atol=1e-7)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((4, 5)), rng.integers(0, 5, 4)
    t = md.Tensor(z, requires_grad=True)
    g = md.grad(losses.softmax_cross_entropy(t, y), t).data
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    np.testing.assert_allclose(g, (p - np.eye(5)[y]) / 4, rtol=1e-12)


@pytest.mark.parametrize("be", ["numpy", "array-api-strict"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@given(data=st.data())
def test_every_loss_has_exact_first_and_second_derivatives(be, dtype, data):
    b = backend.get(be)
    n, c = data.draw(st.integers(1, 5)), data.draw(st.integers(2, 5))
    z = b.to_device(data.draw(arrays((n, c), -4.0, 4.0)), dtype=dtype)
    labels = b.to_device(_labels(data.draw, n, c))
    targets = b.to_device(data.draw(arrays((n, c), 0.0, 1.0)), dtype=dtype)
    signs = b.to_device(np.where(data.draw(arrays((n, c))) > 0, 1.0, -1.0), dtype=dtype)
    cases = {
        "softmax_cross_entropy": lambda t: losses.softmax_cross_entropy(t, labels),
        "mse": lambda t: losses.mse(
            t, targets if t.dtype == targets.dtype else b.xp.astype(targets, t.dtype)
        ),
        "binary_cross_entropy": lambda t: losses.binary_cross_entropy(t, b.xp.astype(targets, t.dtype)),
        "logistic": lambda t: losses.logistic(t, b.xp.astype(signs, t.dtype)),
    }
    for name, f in cases.items():
        f.__name__ = name
        check_grad(f, [z], directions=2)
        check_hvp(f, [z], directions=1)


def test_regression_losses_match_numpy():
    rng = np.random.default_rng(1)
    z, t = rng.standard_normal((6, 3)), rng.random((6, 3))
    s = np.where(rng.random((6, 3)) > 0.5, 1.0, -1.0)
    np.testing.assert_allclose(losses.mse(z, t).data, ((z - t) ** 2).mean(), rtol=1e-12)
    bce = -(t * np.log(1 / (1 + np.exp(-z))) + (1 - t) * np.log(1 - 1 / (1 + np.exp(-z)))).mean()
    np.testing.assert_allclose(losses.binary_cross_entropy(z, t).data, bce, rtol=1e-12)
    np.testing.assert_allclose(losses.logistic(z, s).data, np.log1p(np.exp(-s * z)).mean(), rtol=1e-12)
    big = np.array([[1e4, -1e4]], np.float32)
    assert np.isfinite(losses.binary_cross_entropy(big, np.array([[0.0, 1.0]], np.float32)).data)
    assert np.isfinite(losses.logistic(big, np.array([[-1.0, 1.0]], np.float32)).data)


def test_accuracy_counts_argmax_hits_with_first_maximum_on_ties():
    z = np.array([[1.0, 3.0, 3.0], [5.0, 0.0, 0.0], [0.0, 0.0, 1.0], [2.0, 2.0, 2.0]], np.float32)
    assert losses.accuracy(z, np.array([1, 0, 0, 0])) == 0.75
    assert losses.accuracy(md.Tensor(z), np.array([2, 1, 2, 1])) == 0.25


def test_get_lists_the_valid_losses():
    assert losses.get("mse") is losses.mse
    with pytest.raises(
        ValueError, match="valid losses: softmax_cross_entropy, mse, binary_cross_entropy, logistic"
    ):
        losses.get("hinge")


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([0.0, 1.0]), r"labels must be integers 0..C-1, got dtype float64 with shape \(2,\)"),
        (
            np.array([0, 1, 2]),
            r"expected logits \(N, C\) and labels \(N,\), got logits \(2, 3\) and labels \(3,\)",
        ),
        (np.array([0, 3]), r"values must lie in \[0, 2\] \(shape \(2,\), logits \(2, 3\)\)"),
        (np.array([-1, 0]), r"values must lie in \[0, 2\]"),
    ],
)
def test_bad_labels_name_the_loss_and_the_shapes(labels, message):
    with pytest.raises(ValueError, match="softmax_cross_entropy: " + message):
        losses.softmax_cross_entropy(np.zeros((2, 3), np.float32), labels)


def test_bad_targets():
    with pytest.raises(ValueError, match=r"mse: predictions \(2, 3\) and targets \(3, 2\) differ in shape"):
        losses.mse(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: values must lie in \[0.0, 1.0\]"):
        losses.binary_cross_entropy(np.zeros(2), np.array([0.5, 2.0]))
    with pytest.raises(ValueError, match="logistic: labels must be -1 or \\+1"):
        losses.logistic(np.zeros(2), np.array([1.0, 0.0]))
