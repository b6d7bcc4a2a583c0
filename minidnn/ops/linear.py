"""The affine map of a dense layer, fused: y = x W^T + b, x (N, in), W (out, in), b (out,).

One node instead of a product and a broadcast sum; its backward is made of differentiable products
and a sum, so second derivatives stay exact:

    gx = gy W        gW = gy^T x        gb = sum over the batch of gy
    dy = dx W^T + x dW^T + db          (forward mode)
"""

from __future__ import annotations

from typing import Any

from minidnn.function import Function
from minidnn.ops.linalg import MatMul
from minidnn.ops.operands import expand_tangent, same_kind, tensor_arg
from minidnn.ops.reduction import Sum
from minidnn.tensor import Tensor


class Linear(Function):
    save_inputs = (0, 1)

    def forward(self, x: Any, w: Any, b: Any) -> Any:
        self.x, self.w = x, w
        y = x @ w.mT
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
            y = dx @ self.w.mT
        if dw is not None:
            term = self.x @ dw.mT
            if y is None:
                y = term
            else:
                y += term
        if db is not None:
            if y is None:
                return expand_tangent(db, self.y_shape)
            y += db
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
