"""Affine maps fused into one node: a product and a bias added in place.

Dense layers, by rows: y = x W^T + b, x (N, in), W (out, in), b (out,) (``Linear``):

    gx = gy W        gW = gy^T x        gb = sum over the batch of gy
    dy = dx W^T + x dW^T + db          (forward mode)

Convolutions, by columns: Y = A^T X + b 1^T, A (in, out) the transposed weight, X (in, L) the
column matrix, b (out,) (``ColumnLinear``; see :mod:`minidnn.ops.conv`):

    gA = X gY^T      gX = A gY          gb = sum over the columns of gY
    dY = dA^T X + A^T dX + db 1^T      (forward mode)

One node instead of a product and a broadcast sum; each backward is made of differentiable products
and a sum, so second derivatives stay exact.
"""

from __future__ import annotations

from typing import Any

from minidnn.backend import namespace
from minidnn.function import Function
from minidnn.ops import buffers
from minidnn.ops.linalg import MatMul
from minidnn.ops.operands import expand_tangent, same_kind, tensor_arg
from minidnn.ops.reduction import Sum
from minidnn.tensor import Tensor


class Linear(Function):
    save_inputs = (0, 1)

    def forward(self, x: Any, w: Any, b: Any) -> Any:
        self.x, self.w = x, w
        y = buffers.matmul(x, w.mT)
        y += b
        self.y_shape = tuple(y.shape)
        return y

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        x, w = self.saved
        return (
            MatMul()(gy, w) if self.needs_grad(0) else None,
            MatMul(True, False)(gy, x) if self.needs_grad(1) else None,
            Sum((0,), False)(gy) if self.needs_grad(2) else None,
        )

    def jvp(self, dx: Any, dw: Any, db: Any) -> Any:
        y = None
        if dx is not None:
            y = buffers.matmul(dx, self.w.mT)
        if dw is not None:
            term = buffers.matmul(self.x, dw.mT)
            if y is None:
                y = term
            else:
                y += term
        if db is not None:
            if y is None:
                return expand_tangent(db, self.y_shape)
            y += db
        return y


class ColumnLinear(Function):
    save_inputs = (0, 1)

    def forward(self, a: Any, x: Any, b: Any) -> Any:
        self.a, self.x = a, x
        self.b_column = (b.shape[0], 1)
        y = buffers.matmul(a.mT, x)
        y += namespace(b).reshape(b, self.b_column)
        self.y_shape = tuple(y.shape)
        return y

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        a, x = self.saved
        return (
            MatMul(False, True)(x, gy) if self.needs_grad(0) else None,
            MatMul()(a, gy) if self.needs_grad(1) else None,
            Sum((1,), False)(gy) if self.needs_grad(2) else None,
        )

    def jvp(self, da: Any, dx: Any, db: Any) -> Any:
        y = None
        if da is not None:
            y = buffers.matmul(da.mT, self.x)
        if dx is not None:
            term = buffers.matmul(self.a.mT, dx)
            if y is None:
                y = term
            else:
                y += term
        if db is not None:
            column = namespace(db).reshape(db, self.b_column)
            if y is None:
                return expand_tangent(column, self.y_shape)
            y += column
        return y


def linear(x: Any, w: Any, b: Any) -> Tensor:
    """x W^T + b for x of shape (N, in), W (out, in), b (out,)."""
    x, w = same_kind("linear", x, w)
    b = tensor_arg("linear", b)
    same_kind("linear", w, b)
    if x.ndim != 2 or w.ndim != 2 or b.shape != (w.shape[0],) or x.shape[1] != w.shape[1]:
        raise ValueError(
            f"linear: expected x (N, {w.shape[-1] if w.ndim else '?'}), W (out, in), b (out,); "
            f"got x {x.shape}, W {w.shape}, b {b.shape}"
        )
    return Linear()(x, w, b)
