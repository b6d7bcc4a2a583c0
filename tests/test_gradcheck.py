"""The derivative checks catch what they are for: wrong gradients, wrong tangents, wrong curvature."""

from __future__ import annotations

import numpy as np
import pytest

from minidnn import Function, Tensor, backend, ops
from minidnn.gradcheck import TOLERANCES, GradcheckError, check_grad, check_hvp
from minidnn.ops.arithmetic import Mul


class CubeWithWrongBackward(Function):
    """y = x^3 with a backward that is off by 10%."""

    save_inputs = (0,)

    def forward(self, x):
        self.x = x
        return x**3

    def backward(self, gy):
        (x,) = self.saved
        return (gy * x * x * 3.3,)

    def jvp(self, dx):
        return 3 * self.x**2 * dx


class CubeWithWrongTangent(CubeWithWrongBackward):
    def backward(self, gy):
        (x,) = self.saved
        return (gy * x * x * 3.0,)

    def jvp(self, dx):
        return 2 * self.x**2 * dx


class ExpWithConstantBackward(Function):
    """y = exp(x) whose backward treats exp(x) as a constant: right gradient, wrong curvature."""

    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def backward(self, gy):
        return (gy * Tensor(self.y),)

    def jvp(self, dx):
        return self.y * dx


class NonSymmetricField(Function):
    """A 'gradient' (x1, 2 x0) of f(x) = x0 x1 that is not a gradient: its Jacobian is not symmetric.

    Forward over reverse and finite differences both give J v, so only the symmetry check catches it
    (reverse over reverse gives J^T v and fails the comparison itself).
    """

    save_inputs = (0,)

    def forward(self, x):
        return x[0] * x[1]

    def backward(self, gy):
        (x,) = self.saved
        swap = ops.stack([x[1], x[0] * 2.0])
        return (gy * swap,)

    def jvp(self, dx):
        return dx[0] * 0.0


def test_a_wrong_backward_is_reported_with_both_sides_and_the_direction():
    x = np.array([0.5, -1.0, 2.0])
    with pytest.raises(GradcheckError) as err:
        check_grad(lambda t: CubeWithWrongBackward()(t), [x])
    text = str(err.value)
    assert "reverse mode <grad, d>" in text and "finite difference" in text
    assert "direction 0" in text and "input 0: shape (3,)" in text


def test_a_wrong_tangent_is_reported():
    with pytest.raises(GradcheckError, match="forward mode tangent"):
        check_grad(lambda t: CubeWithWrongTangent()(t), [np.array([0.5, -1.0])])


@pytest.mark.parametrize("mode", ["forward-over-reverse", "reverse-over-reverse"])
def test_a_backward_that_is_not_differentiable_fails_the_hvp_check(mode):
    x = np.array([0.3, -0.2])
    check_grad(lambda t: ExpWithConstantBackward()(t), [x])
    with pytest.raises(GradcheckError, match=f"H v \\({mode}\\)"):
        check_hvp(lambda t: ExpWithConstantBackward()(t).sum(), [x], modes=[mode])


def test_a_non_symmetric_hessian_fails_the_symmetry_check():
    with pytest.raises(GradcheckError, match="symmetry"):
        check_hvp(lambda t: NonSymmetricField()(t), [np.array([0.7, -0.4])], modes=["forward-over-reverse"])
    with pytest.raises(GradcheckError, match="reverse-over-reverse"):
        check_hvp(lambda t: NonSymmetricField()(t), [np.array([0.7, -0.4])], modes=["reverse-over-reverse"])


def test_correct_derivatives_pass_in_both_dtypes_and_on_the_strict_device():
    rng = np.random.default_rng(0)
    for be in ("numpy", "array-api-strict"):
        for dtype in TOLERANCES:
            b = backend.get(be)
            xs = [
                b.to_device(rng.standard_normal((3, 2)), dtype=dtype),
                b.to_device(rng.standard_normal(2), dtype=dtype),
            ]

            def f(a, c):
                return ops.softplus(ops.matmul(a, c)) * ops.sigmoid(a[:, 0])

            check_grad(f, xs)
            check_hvp(lambda a, c: ops.sum(f(a, c)), xs)


def test_non_scalar_outputs_are_checked_through_a_random_projection():
    check_grad(lambda t: Mul()(t, t), [np.array([1.0, 2.0, 3.0])])


def test_inputs_must_share_backend_and_dtype():
    with pytest.raises(ValueError, match="one backend and one dtype"):
        check_grad(lambda a, b: a * 1.0, [np.ones(2), np.ones(2, np.float32)])


def test_unknown_dtype_and_mode_are_refused():
    with pytest.raises(ValueError, match="no gradcheck tolerances"):
        check_grad(lambda t: t * 2.0, [np.ones(2, np.float16)])
    with pytest.raises(ValueError, match="unknown mode"):
        check_hvp(lambda t: t.sum(), [np.ones(2)], modes=["central"])
