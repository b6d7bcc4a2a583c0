"""Elementwise functions: exp, log, tanh, sigmoid, softplus, relu, abs.

Each backward is a product of ``gy`` with a differentiable expression of the input or output, so
second derivatives are exact; relu and abs are piecewise linear and their second derivatives are 0
(their masks are constants of the graph). At the kink (x = 0) both take the derivative 0.
"""

from __future__ import annotations

from typing import Any

from minidnn.backend import namespace
from minidnn.function import Function
from minidnn.ops import buffers
from minidnn.ops.arithmetic import AddConst, Neg
from minidnn.ops.operands import tensor_arg
from minidnn.tensor import Tensor


class Exp(Function):
    """y = exp(x); dx = gy * y."""

    save_output = True

    def forward(self, x: Any) -> Any:
        return namespace(x).exp(x)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (gy * self.output(),)

    def jvp(self, dx: Any) -> Any:
        return dx * self.y


class Log(Function):
    """y = log(x); dx = gy / x."""

    save_inputs = (0,)

    def forward(self, x: Any) -> Any:
        self.x = x
        return namespace(x).log(x)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (gy / self.saved[0],)

    def jvp(self, dx: Any) -> Any:
        return dx / self.x


class Tanh(Function):
    """y = tanh(x); dx = gy * (1 - y^2)."""

    save_output = True

    def forward(self, x: Any) -> Any:
        return namespace(x).tanh(x)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        y = self.output()
        return (gy * AddConst(1.0)(Neg()(y * y)),)

    def jvp(self, dx: Any) -> Any:
        return dx * (1 - self.y * self.y)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x)), evaluated without overflow; dx = gy * y * (1 - y)."""

    save_output = True

    def forward(self, x: Any) -> Any:
        return stable_sigmoid(x)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        y = self.output()
        return (gy * (y * AddConst(1.0)(Neg()(y))),)

    def jvp(self, dx: Any) -> Any:
        return dx * (self.y * (1 - self.y))


class Softplus(Function):
    """y = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)); dx = gy * sigmoid(x)."""

    save_inputs = (0,)

    def forward(self, x: Any) -> Any:
        xp = namespace(x)
        self.x = x
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (gy * Sigmoid()(self.saved[0]),)

    def jvp(self, dx: Any) -> Any:
        return dx * stable_sigmoid(self.x)


class ReLU(Function):
    """y = max(x, 0); dx = gy * [x > 0]. Pins the step [x > 0] as a boolean mask (one byte a value)."""

    def forward(self, x: Any) -> Any:
        xp = namespace(x)
        self.step = buffers.elementwise(xp.greater, x, 0, dtype=xp.bool)
        return buffers.elementwise(xp.maximum, x, 0)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (StepMul(self.step)(gy),)

    def jvp(self, dx: Any) -> Any:
        return buffers.masked(dx, self.step)


class StepMul(Function):
    """y = x * s for a constant 0/1 step s held as a boolean mask; linear, so its own adjoint.

    A product (NaN stays NaN where s = 0), unlike ``Mask``, which selects.
    """

    def __init__(self, step: Any):
        self.step = step

    def forward(self, x: Any) -> Any:
        return buffers.masked(x, self.step)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (StepMul(self.step)(gy),)

    def jvp(self, dx: Any) -> Any:
        return buffers.masked(dx, self.step)


class Abs(Function):
    """y = |x|; dx = gy * sign(x)."""

    def forward(self, x: Any) -> Any:
        xp = namespace(x)
        self.sign = xp.sign(x)
        return xp.abs(x)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (gy * Tensor._make(self.sign, None, None),)

    def jvp(self, dx: Any) -> Any:
        return dx * self.sign


class Mask(Function):
    """y = x where ``mask`` holds, else 0 (``mask`` a constant boolean array); its own adjoint."""

    def __init__(self, mask: Any):
        self.mask = mask

    def forward(self, x: Any) -> Any:
        return namespace(x).where(self.mask, x, 0)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (Mask(self.mask)(gy),)

    def jvp(self, dx: Any) -> Any:
        return namespace(dx).where(self.mask, dx, 0)


def stable_sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)) on arrays, as exp(min(x, 0)) / (1 + exp(-|x|)): no overflow anywhere."""
    xp = namespace(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1, e) / (1 + e)


def exp(x: Any) -> Tensor:
    """Elementwise e**x."""
    return Exp()(tensor_arg("exp", x))


def log(x: Any) -> Tensor:
    """Elementwise natural logarithm."""
    return Log()(tensor_arg("log", x))


def tanh(x: Any) -> Tensor:
    """Elementwise hyperbolic tangent."""
    return Tanh()(tensor_arg("tanh", x))


def sigmoid(x: Any) -> Tensor:
    """Elementwise logistic function 1 / (1 + exp(-x)), stable for large |x|."""
    return Sigmoid()(tensor_arg("sigmoid", x))


def softplus(x: Any) -> Tensor:
    """Elementwise log(1 + exp(x)), stable for large |x|."""
    return Softplus()(tensor_arg("softplus", x))


def relu(x: Any) -> Tensor:
    """Elementwise max(x, 0)."""
    return ReLU()(tensor_arg("relu", x))


def abs(x: Any) -> Tensor:  # noqa: A001 (the function's name)
    """Elementwise |x|."""
    return Abs()(tensor_arg("abs", x))
