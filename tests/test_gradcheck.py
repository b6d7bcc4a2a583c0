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
    assert "direction 0 of 3" in text and "0: shape (3,) float64" in text


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


# -- errors that a tolerance scaled to the wrong size would miss ----------------------------------------
class CubeOff(Function):
    """y = x^3 whose backward (or tangent) is off by a factor, everywhere or at one component."""

    save_inputs = (0,)

    def __init__(self, backward=1.0, tangent=1.0, at=None):
        self.backward_factor, self.tangent_factor, self.at = backward, tangent, at

    def forward(self, x):
        self.x = x
        return x**3

    def backward(self, gy):
        (x,) = self.saved
        factor = np.ones(x.shape, dtype=x.dtype)
        factor[... if self.at is None else self.at] = self.backward_factor
        return (gy * x * x * 3.0 * Tensor(factor),)

    def jvp(self, dx):
        return 3.0 * self.tangent_factor * self.x**2 * dx


@pytest.mark.parametrize("n", [4, 400])
@pytest.mark.parametrize("which", ["backward", "tangent"])
def test_a_one_percent_error_in_float32_is_caught_at_any_input_size(n, which):
    for seed in range(8):
        x = np.random.default_rng(seed).uniform(-2.0, 2.0, n).astype(np.float32)
        label = "reverse mode" if which == "backward" else "forward mode"
        with pytest.raises(GradcheckError, match=label):
            check_grad(lambda t: CubeOff(**{which: 1.01})(t), [x], seed=seed)


@pytest.mark.parametrize("n", [4, 400])
def test_correct_float32_derivatives_pass_at_any_input_size(n):
    for seed in range(8):
        x = np.random.default_rng(seed).uniform(-2.0, 2.0, n).astype(np.float32)
        check_grad(lambda t: CubeOff()(t), [x], seed=seed)
        check_hvp(lambda t: ops.sum(ops.tanh(CubeOff()(t))), [x], seed=seed)


@pytest.mark.parametrize(("dtype", "scale"), [("float64", 1e-7), ("float32", 1e-5)])
@pytest.mark.parametrize("mode", ["forward-over-reverse", "reverse-over-reverse"])
def test_a_lost_second_derivative_is_caught_on_a_small_valued_function(dtype, scale, mode):
    x = np.array([0.3, -0.2, 0.5, 1.1], dtype=dtype)
    check_hvp(lambda t: ops.sum(ops.exp(t)) * scale, [x], modes=[mode])
    with pytest.raises(GradcheckError, match="relative"):
        check_hvp(lambda t: ExpWithConstantBackward()(t).sum() * scale, [x], modes=[mode])


def test_small_valued_correct_functions_pass_every_check():
    for dtype, scale in (("float64", 1e-12), ("float32", 1e-8)):
        x = np.random.default_rng(0).uniform(-1.0, 1.0, (3, 5)).astype(dtype)
        check_grad(lambda t, c=scale: ops.sigmoid(t) * c, [x])
        check_hvp(lambda t, c=scale: ops.sum(ops.softplus(t)) * c, [x])


def test_a_consistently_wrong_backward_passes_check_hvp_and_fails_check_grad():
    """check_hvp differentiates the op's own gradient: only check_grad compares that gradient with f."""
    x = np.array([0.5, -1.0, 2.0])
    check_hvp(lambda t: CubeWithWrongBackward()(t).sum(), [x])
    with pytest.raises(GradcheckError, match="reverse mode"):
        check_grad(lambda t: CubeWithWrongBackward()(t), [x])


# -- what a failure says -----------------------------------------------------------------------------------
def _failure(check, fn, inputs, **options):
    with pytest.raises(GradcheckError) as err:
        check(fn, inputs, **options)
    return str(err.value)


def test_a_failure_names_the_relative_error_the_tolerance_and_the_worst_component():
    x = np.random.default_rng(0).uniform(0.5, 1.5, (2, 3, 8, 8))
    text = _failure(check_grad, lambda t: CubeOff(backward=1.2, at=(1, 2, 3, 4))(t), [x])
    assert "(1.00e+00 relative)" not in text
    assert "relative) > tolerance" in text and "rtol 1.0e-06" in text
    assert "worst input: 0" in text and "input 0 at index (1, 2, 3, 4)" in text
    assert "384 of 384 components" in text
    assert len(text.splitlines()) <= 30


def test_the_worst_input_is_named_among_several():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.5, 1.5, (4, 3)), rng.uniform(0.5, 1.5, 6)
    text = _failure(check_grad, lambda s, t: ops.sum(s) + CubeOff(backward=0.5, at=(4,))(t), [a, b])
    assert "worst input: 1" in text and "input 1 at index (4,)" in text


def test_a_failure_stays_short_for_large_and_many_inputs():
    rng = np.random.default_rng(2)
    xs = [rng.uniform(0.5, 1.5, 2000)] + [rng.uniform(0.5, 1.5, (3, 3)) for _ in range(15)]

    def fn(*ts):
        total = CubeOff(backward=1.05)(ts[0]).sum()
        for t in ts[1:]:
            total = total + ops.sum(t * t)
        return total

    text = _failure(check_grad, fn, xs, directions=1)
    assert "512 of 2000 components" in text and "and 8 more" in text
    assert len(text.splitlines()) <= 30


class SquareLosingCurvatureAt(Function):
    """f(x) = sum x^2 / 2 whose backward treats x as a constant at one index: right gradient there,
    no curvature."""

    save_inputs = (0,)

    def __init__(self, at):
        self.at = at

    def forward(self, x):
        self.x = x
        return (x * x).sum() / 2

    def backward(self, gy):
        (x,) = self.saved
        mask = np.zeros(x.shape)
        mask[self.at] = 1.0
        return (gy * (x * Tensor(1.0 - mask) + Tensor(x.data * mask)),)

    def jvp(self, dx):
        return (self.x * dx).sum()


@pytest.mark.parametrize("mode", ["forward-over-reverse", "reverse-over-reverse"])
def test_an_hvp_failure_names_the_worst_component(mode):
    x = np.random.default_rng(4).uniform(-1.0, 1.0, (3, 4))
    check_grad(lambda t: SquareLosingCurvatureAt((2, 1))(t), [x])
    text = _failure(check_hvp, lambda t: SquareLosingCurvatureAt((2, 1))(t), [x], modes=[mode])
    assert f"H v ({mode})" in text and "input 0 at index (2, 1)" in text
    assert "relative)" in text and "tolerance" in text
    assert len(text.splitlines()) <= 30


def test_options_loosen_the_check_where_the_user_says_so():
    x = np.random.default_rng(3).uniform(-2.0, 2.0, 50).astype(np.float32)
    check_grad(lambda t: CubeOff(backward=1.01)(t), [x], rtol=0.05)
    check_grad(lambda t: CubeOff(backward=1.01)(t) * 1e-30, [x], atol=1.0)


def test_subnormal_values_are_judged_at_the_dtype_underflow_level():
    """A product with the smallest float32 subnormal keeps no relative precision: that is no error."""
    tiny = np.finfo(np.float32).smallest_subnormal
    check_grad(lambda a, b: ops.mul(a, b), [np.zeros((), np.float32), np.full((), tiny, np.float32)])
