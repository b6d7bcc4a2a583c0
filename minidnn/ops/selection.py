"""Selection by a constant condition: where, maximum, minimum, and the comparisons that make masks.

``where(cond, a, b)`` picks from ``a`` where ``cond`` holds and from ``b`` elsewhere; the condition is
a constant of the graph, so the gradient is routed by it: da = gy where cond, db = gy elsewhere.
``maximum(a, b)`` is ``where(a >= b, a, b)``: at a tie the gradient goes to ``a``.
"""

from __future__ import annotations

from typing import Any

from minidnn import backend as _backend
from minidnn.backend import namespace
from minidnn.function import Function
from minidnn.ops.broadcast import sum_to
from minidnn.ops.operands import broadcast_shape, expand_tangent, is_scalar, pair, tensor_arg
from minidnn.ops.unary import Mask
from minidnn.tensor import Tensor


class Where(Function):
    """y = a where ``cond``, else b."""

    def __init__(self, cond: Any):
        self.cond = cond

    def forward(self, a: Any, b: Any) -> Any:
        self.shapes = (tuple(a.shape), tuple(b.shape))
        y = namespace(a).where(self.cond, a, b)
        self.y_shape = tuple(y.shape)
        return y

    def backward(self, gy: Tensor) -> tuple[Tensor | None, Tensor | None]:
        sa, sb = self.shapes
        xp = namespace(gy.data)
        return (
            sum_to(Mask(self.cond)(gy), sa) if self.needs_grad(0) else None,
            sum_to(Mask(xp.logical_not(self.cond))(gy), sb) if self.needs_grad(1) else None,
        )

    def jvp(self, da: Any, db: Any) -> Any:
        xp = namespace(da if da is not None else db)
        y = xp.where(self.cond, 0 if da is None else da, 0 if db is None else db)
        return expand_tangent(y, self.y_shape)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a if cond else b``; ``cond`` is a boolean array or tensor (no gradient)."""
    cond = _condition("where", cond)
    a, b = pair("where", a, b)
    if _backend.of(cond) is not a.backend:
        raise ValueError(
            f"where: the condition {tuple(cond.shape)} lives on backend {_backend.of(cond).name}, "
            f"the operands {a.shape} on {a.backend.name}"
        )
    broadcast_shape("where", tuple(cond.shape), a.shape, b.shape)
    return Where(cond)(a, b)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; at a tie the gradient goes to ``a``."""
    a, b = _operands("maximum", a, b)
    return where(a.data >= b.data, a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum; at a tie the gradient goes to ``a``."""
    a, b = _operands("minimum", a, b)
    return where(a.data <= b.data, a, b)


_COMPARISONS = ("less", "less_equal", "greater", "greater_equal", "equal", "not_equal")


def compare(name: str, a: Any, b: Any) -> Tensor:
    """A constant boolean tensor from an elementwise comparison (``name`` as in the Array API)."""
    if name not in _COMPARISONS:
        raise ValueError(f"compare: unknown comparison {name!r}; valid: {', '.join(_COMPARISONS)}")
    a, b = _operands(name, a, b)
    return Tensor._make(getattr(namespace(a.data), name)(a.data, b.data), None, None)


def _operands(op: str, a: Any, b: Any) -> tuple[Tensor, Tensor]:
    if is_scalar(b):
        a = tensor_arg(op, a)
        return a, _constant(b, a)
    if is_scalar(a):
        b = tensor_arg(op, b)
        return _constant(a, b), b
    return pair(op, a, b)


def _constant(value: float, like: Tensor) -> Tensor:
    return Tensor._make(like.backend.full((), value, like.data.dtype), None, None)


def _condition(op: str, cond: Any) -> Any:
    data = cond.data if isinstance(cond, Tensor) else cond
    xp = namespace(data)
    if not xp.isdtype(data.dtype, "bool"):
        raise ValueError(f"{op}: the condition must be boolean, got {data.dtype}")
    return data
