"""Broadcasting and its adjoint: ``broadcast_to`` and ``sum_to``.

``sum_to(x, shape)`` sums the axes that broadcasting to ``x.shape`` would have created; each is the
other's backward.
"""

from __future__ import annotations

from typing import Any

from minidnn.backend import namespace
from minidnn.function import Function
from minidnn.ops.operands import broadcast_shape, tensor_arg
from minidnn.tensor import Tensor


class BroadcastTo(Function):
    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape

    def forward(self, x: Any) -> Any:
        self.x_shape = tuple(x.shape)
        return namespace(x).broadcast_to(x, self.shape)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (sum_to(gy, self.x_shape),)

    def jvp(self, dx: Any) -> Any:
        return namespace(dx).broadcast_to(dx, self.shape)


class SumTo(Function):
    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape

    def forward(self, x: Any) -> Any:
        self.x_shape = tuple(x.shape)
        return _reduce_to(x, self.shape)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (broadcast_to(gy, self.x_shape),)

    def jvp(self, dx: Any) -> Any:
        return _reduce_to(dx, self.shape)


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Tensor:
    """``x`` broadcast to ``shape`` (NumPy rules)."""
    x = tensor_arg("broadcast_to", x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    if broadcast_shape("broadcast_to", x.shape, shape) != shape:
        raise ValueError(f"broadcast_to: shape {x.shape} does not broadcast to {shape}")
    return BroadcastTo(shape)(x)


def sum_to(x: Any, shape: tuple[int, ...]) -> Tensor:
    """Sums ``x`` down to ``shape``, the shape it was broadcast from."""
    x = tensor_arg("sum_to", x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    if broadcast_shape("sum_to", x.shape, shape) != x.shape:
        raise ValueError(f"sum_to: shape {x.shape} is not a broadcast of {shape}")
    return SumTo(shape)(x)


def _reduce_to(x: Any, shape: tuple[int, ...]) -> Any:
    xp = namespace(x)
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1
    )
    y = xp.sum(x, axis=axes, keepdims=True)
    return xp.reshape(y, shape) if lead else y
