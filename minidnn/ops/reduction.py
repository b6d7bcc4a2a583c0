"""Reductions: sum and mean over axes.

The backward of a sum broadcasts the incoming gradient back over the summed axes.
"""

from __future__ import annotations

from typing import Any

from minidnn.backend import namespace
from minidnn.function import Function
from minidnn.ops.arithmetic import MulConst
from minidnn.ops.broadcast import broadcast_to
from minidnn.ops.operands import normalize_axes, tensor_arg
from minidnn.ops.shape import reshape
from minidnn.tensor import Tensor


class Sum(Function):
    """y = sum of x over ``axes``; dx = gy broadcast back to x's shape."""

    def __init__(self, axes: tuple[int, ...], keepdims: bool):
        self.axes = axes
        self.keepdims = keepdims

    def forward(self, x: Any) -> Any:
        self.x_shape = tuple(x.shape)
        return namespace(x).sum(x, axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        if not self.keepdims:
            kept = tuple(1 if i in self.axes else s for i, s in enumerate(self.x_shape))
            gy = reshape(gy, kept)
        return (broadcast_to(gy, self.x_shape),)

    def jvp(self, dx: Any) -> Any:
        return namespace(dx).sum(dx, axis=self.axes, keepdims=self.keepdims)


def sum(x: Any, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (all axes when ``None``)."""
    x = tensor_arg("sum", x)
    return Sum(normalize_axes("sum", axis, x.ndim), keepdims)(x)


def mean(x: Any, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (all axes when ``None``): the sum times 1/n."""
    x = tensor_arg("mean", x)
    axes = normalize_axes("mean", axis, x.ndim)
    n = 1
    for a in axes:
        n *= x.shape[a]
    if n == 0:
        raise ValueError(f"mean: no elements to average over axes {axes} of shape {x.shape}")
    return MulConst(1.0 / n)(Sum(axes, keepdims)(x))
