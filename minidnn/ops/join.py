"""Joining: concat along an existing axis and stack along a new one; backward slices the gradient."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minidnn import backend as _backend
from minidnn.backend import namespace
from minidnn.function import Function
from minidnn.ops.indexing import GetItem
from minidnn.ops.operands import tensor_arg
from minidnn.ops.shape import expand_dims
from minidnn.tensor import Tensor


class Concat(Function):
    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, *xs: Any) -> Any:
        self.shapes = [tuple(x.shape) for x in xs]
        return namespace(xs[0]).concat(xs, axis=self.axis)

    def backward(self, gy: Tensor) -> tuple[Tensor | None, ...]:
        grads: list[Tensor | None] = []
        start = 0
        for i, shape in enumerate(self.shapes):
            n = shape[self.axis]
            index = (slice(None),) * self.axis + (slice(start, start + n), Ellipsis)
            grads.append(GetItem(index)(gy) if self.needs_grad(i) else None)
            start += n
        return tuple(grads)

    def jvp(self, *dxs: Any) -> Any:
        some = next(d for d in dxs if d is not None)
        backend = _backend.of(some)
        parts = [backend.zeros(s, some.dtype) if d is None else d for s, d in zip(self.shapes, dxs)]
        return backend.xp.concat(parts, axis=self.axis)


def concat(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """Joins tensors of equal shapes but along ``axis``."""
    ts = [tensor_arg("concat", x) for x in xs]
    if not ts:
        raise ValueError("concat: nothing to join")
    first = ts[0]
    if not -first.ndim <= axis < first.ndim:
        raise ValueError(f"concat: axis {axis} is out of range for shape {first.shape}")
    axis %= first.ndim
    for t in ts[1:]:
        _check_join("concat", first, t, axis)
    return Concat(axis)(*ts)


def stack(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """Joins tensors of equal shapes along a new axis."""
    ts = [tensor_arg("stack", x) for x in xs]
    if not ts:
        raise ValueError("stack: nothing to join")
    for t in ts[1:]:
        if t.shape != ts[0].shape:
            raise ValueError(f"stack: shapes {ts[0].shape} and {t.shape} differ")
    return concat([expand_dims(t, axis) for t in ts], axis=axis % (ts[0].ndim + 1))


def _check_join(op: str, a: Tensor, b: Tensor, axis: int) -> None:
    if type(a.data) is not type(b.data) or a.dtype != b.dtype:
        raise ValueError(
            f"{op}: operands differ in backend or dtype ({a.backend.name} {a.dtype} {a.shape}, "
            f"{b.backend.name} {b.dtype} {b.shape})"
        )
    if a.ndim != b.ndim or any(s != t for i, (s, t) in enumerate(zip(a.shape, b.shape)) if i != axis):
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} differ off axis {axis}")
