"""Matrix product with optional transposes: y = op_a(a) @ op_b(b), op = identity or transpose.

Carrying the transposes in the node keeps every backward a single product (no transpose nodes):

    ga = gy @ op_b(b)^T          (a not transposed)      ga = op_b(b) @ gy^T   (a transposed)
    gb = op_a(a)^T @ gy          (b not transposed)      gb = gy^T @ op_a(a)   (b transposed)

Operands of more than two dimensions multiply their last two axes and broadcast the leading ones;
gradients of broadcast batch axes are summed back.
"""

from __future__ import annotations

from typing import Any

from minidnn.function import Function
from minidnn.ops import buffers
from minidnn.ops.broadcast import sum_to
from minidnn.ops.operands import broadcast_shape, same_kind
from minidnn.ops.shape import reshape
from minidnn.tensor import Tensor


class MatMul(Function):
    save_inputs = (0, 1)

    def __init__(self, transa: bool = False, transb: bool = False):
        self.transa = transa
        self.transb = transb

    def forward(self, a: Any, b: Any) -> Any:
        self.a, self.b = a, b
        self.shapes = (tuple(a.shape), tuple(b.shape))
        return buffers.matmul(_op(a, self.transa), _op(b, self.transb))

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = self.saved
        sa, sb = self.shapes
        ga = gb = None
        if self.needs_grad(0):
            ga = MatMul(self.transb, True)(b, gy) if self.transa else MatMul(False, not self.transb)(gy, b)
            ga = sum_to(ga, sa)
        if self.needs_grad(1):
            gb = MatMul(True, self.transa)(gy, a) if self.transb else MatMul(not self.transa, False)(a, gy)
            gb = sum_to(gb, sb)
        return ga, gb

    def jvp(self, da: Any, db: Any) -> Any:
        ta, tb = self.transa, self.transb
        if db is None:
            return buffers.matmul(_op(da, ta), _op(self.b, tb))
        if da is None:
            return buffers.matmul(_op(self.a, ta), _op(db, tb))
        y = buffers.matmul(_op(da, ta), _op(self.b, tb))
        y += buffers.matmul(_op(self.a, ta), _op(db, tb))  # both terms have the output's shape
        return y


def _op(x: Any, transpose: bool) -> Any:
    return x.mT if transpose else x


def matmul(a: Any, b: Any, transa: bool = False, transb: bool = False) -> Tensor:
    """Matrix product ``op_a(a) @ op_b(b)``; 1-D operands are promoted as in NumPy."""
    a, b = same_kind("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least one dimension, got {a.shape} and {b.shape}")
    if (transa and a.ndim < 2) or (transb and b.ndim < 2):
        raise ValueError(f"matmul: a transposed operand needs two dimensions, got {a.shape} and {b.shape}")
    a2 = reshape(a, (1,) + a.shape) if a.ndim == 1 else a
    b2 = reshape(b, b.shape + (1,)) if b.ndim == 1 else b
    k_a = a2.shape[-2] if transa else a2.shape[-1]
    k_b = b2.shape[-1] if transb else b2.shape[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned "
            f"(transa={transa}, transb={transb}): {k_a} != {k_b}"
        )
    broadcast_shape("matmul", a2.shape[:-2], b2.shape[:-2])
    y = MatMul(transa, transb)(a2, b2)
    if a.ndim == 1:
        y = reshape(y, y.shape[:-2] + y.shape[-1:])
    if b.ndim == 1:
        y = reshape(y, y.shape[:-1])
    return y
