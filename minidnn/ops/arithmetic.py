"""Arithmetic: add, sub, mul, div, neg, pow (constant exponent), with NumPy broadcasting.

A Python number or NumPy real scalar combines with a tensor in the tensor's dtype (``AddConst``,
``MulConst``, ``DivConst``; see :mod:`minidnn.ops.operands`): no array is made for it and no float64
appears. Gradients of broadcast operands are summed back to their shapes.

Division follows IEEE 754 as NumPy arrays do: ``x / 0`` is +-inf where x != 0 and nan where x == 0
(NumPy warns with a RuntimeWarning), never a ZeroDivisionError; so is ``c / x`` at x == 0.
"""

from __future__ import annotations

from typing import Any

from minidnn.function import Function
from minidnn.ops.broadcast import sum_to
from minidnn.ops.operands import expand_tangent, pair, scalar, tensor_arg
from minidnn.tensor import Tensor


class Add(Function):
    """y = a + b."""

    def forward(self, a: Any, b: Any) -> Any:
        self.shapes = (tuple(a.shape), tuple(b.shape))
        y = a + b
        self.y_shape = tuple(y.shape)
        return y

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        sa, sb = self.shapes
        return (
            sum_to(gy, sa) if self.needs_grad(0) else None,
            sum_to(gy, sb) if self.needs_grad(1) else None,
        )

    def jvp(self, da: Any, db: Any) -> Any:
        if db is None:
            return expand_tangent(da, self.y_shape)
        if da is None:
            return expand_tangent(db, self.y_shape)
        return da + db


class Sub(Function):
    """y = a - b."""

    def forward(self, a: Any, b: Any) -> Any:
        self.shapes = (tuple(a.shape), tuple(b.shape))
        y = a - b
        self.y_shape = tuple(y.shape)
        return y

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        sa, sb = self.shapes
        return (
            sum_to(gy, sa) if self.needs_grad(0) else None,
            sum_to(-gy, sb) if self.needs_grad(1) else None,
        )

    def jvp(self, da: Any, db: Any) -> Any:
        if db is None:
            return expand_tangent(da, self.y_shape)
        if da is None:
            return expand_tangent(-db, self.y_shape)
        return da - db


class Mul(Function):
    """y = a * b; da = gy * b, db = gy * a."""

    save_inputs = (0, 1)

    def forward(self, a: Any, b: Any) -> Any:
        self.shapes = (tuple(a.shape), tuple(b.shape))
        self.a, self.b = a, b
        return a * b

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = self.saved
        sa, sb = self.shapes
        return (
            sum_to(gy * b, sa) if self.needs_grad(0) else None,
            sum_to(gy * a, sb) if self.needs_grad(1) else None,
        )

    def jvp(self, da: Any, db: Any) -> Any:
        if db is None:
            return da * self.b
        if da is None:
            return self.a * db
        return da * self.b + self.a * db


class Div(Function):
    """y = a / b; da = gy / b, db = -gy * y / b."""

    save_inputs = (1,)
    save_output = True

    def forward(self, a: Any, b: Any) -> Any:
        self.shapes = (tuple(a.shape), tuple(b.shape))
        self.b = b
        return a / b

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        (b,) = self.saved
        sa, sb = self.shapes
        ga = gy / b
        return (
            sum_to(ga, sa) if self.needs_grad(0) else None,
            sum_to(-(ga * self.output()), sb) if self.needs_grad(1) else None,
        )

    def jvp(self, da: Any, db: Any) -> Any:
        if db is None:
            return da / self.b
        num = -(self.y * db) if da is None else da - self.y * db
        return num / self.b


class Neg(Function):
    """y = -x."""

    def forward(self, x: Any) -> Any:
        return -x

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (-gy,)

    def jvp(self, dx: Any) -> Any:
        return -dx


class AddConst(Function):
    """y = x + c for a Python number c."""

    def __init__(self, c: float):
        self.c = c

    def forward(self, x: Any) -> Any:
        return x + self.c

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (gy,)

    def jvp(self, dx: Any) -> Any:
        return dx


class MulConst(Function):
    """y = c * x for a Python number c."""

    def __init__(self, c: float):
        self.c = c

    def forward(self, x: Any) -> Any:
        return x * self.c

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (MulConst(self.c)(gy),)

    def jvp(self, dx: Any) -> Any:
        return dx * self.c


class DivConst(Function):
    """y = x / c for a Python number c (IEEE division: c = 0 gives inf or nan, as for arrays)."""

    def __init__(self, c: float):
        self.c = c

    def forward(self, x: Any) -> Any:
        return x / self.c

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (DivConst(self.c)(gy),)

    def jvp(self, dx: Any) -> Any:
        return dx / self.c


class PowConst(Function):
    """y = x ** c for a Python number c; dx = gy * c * x ** (c - 1)."""

    save_inputs = (0,)

    def __init__(self, c: float):
        self.c = c

    def forward(self, x: Any) -> Any:
        self.x = x
        return x**self.c

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        (x,) = self.saved
        return (gy * MulConst(self.c)(PowConst(self.c - 1)(x)),)

    def jvp(self, dx: Any) -> Any:
        return dx * (self.x ** (self.c - 1) * self.c)


def add(a: Any, b: Any) -> Tensor:
    """a + b."""
    if (c := scalar(b)) is not None:
        return AddConst(c)(tensor_arg("add", a))
    if (c := scalar(a)) is not None:
        return AddConst(c)(tensor_arg("add", b))
    return Add()(*pair("add", a, b))


def sub(a: Any, b: Any) -> Tensor:
    """a - b."""
    if (c := scalar(b)) is not None:
        return AddConst(-c)(tensor_arg("sub", a))
    if (c := scalar(a)) is not None:
        return AddConst(c)(Neg()(tensor_arg("sub", b)))
    return Sub()(*pair("sub", a, b))


def mul(a: Any, b: Any) -> Tensor:
    """a * b."""
    if (c := scalar(b)) is not None:
        return MulConst(c)(tensor_arg("mul", a))
    if (c := scalar(a)) is not None:
        return MulConst(c)(tensor_arg("mul", b))
    return Mul()(*pair("mul", a, b))


def div(a: Any, b: Any) -> Tensor:
    """a / b (IEEE division, see the module docstring)."""
    if (c := scalar(b)) is not None:
        return DivConst(c)(tensor_arg("div", a))
    if (c := scalar(a)) is not None:
        return MulConst(c)(PowConst(-1)(tensor_arg("div", b)))
    return Div()(*pair("div", a, b))


def neg(x: Any) -> Tensor:
    """-x."""
    return Neg()(tensor_arg("neg", x))


def pow(x: Any, exponent: float) -> Tensor:  # noqa: A001 (the operator's name)
    """x ** exponent for a Python number (or NumPy real scalar) exponent."""
    c = scalar(exponent)
    if c is None:
        raise TypeError(f"pow: the exponent must be a Python number, got {type(exponent).__name__}")
    return PowConst(c)(tensor_arg("pow", x))
