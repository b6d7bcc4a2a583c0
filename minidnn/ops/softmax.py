"""Softmax, logsumexp and log_softmax along an axis, all shifted by the maximum.

    logsumexp(x) = m + log(sum(exp(x - m))),  m = max(x)      d logsumexp / dx = softmax(x)
    softmax(x)   = exp(x - m) / sum(exp(x - m))                d softmax . v = y * (v - <y, v>)
    log_softmax(x) = x - logsumexp(x)

The shift makes the values finite for logits of any size (e.g. +-1e4 in float32).
"""

from __future__ import annotations

from typing import Any

from minidnn.backend import namespace
from minidnn.function import Function
from minidnn.ops.broadcast import broadcast_to
from minidnn.ops.operands import normalize_axes, tensor_arg
from minidnn.ops.reduction import sum as _sum
from minidnn.ops.shape import reshape
from minidnn.tensor import Tensor


class Softmax(Function):
    """y = softmax(x) along ``axis``; dx = y * (gy - sum(gy * y)).

    ``value``: softmax(x) when the caller computed it already from the same x (no second pass).
    """

    save_output = True

    def __init__(self, axis: int, value: Any = None):
        self.axis = axis
        self.value = value

    def forward(self, x: Any) -> Any:
        if self.value is not None:
            return self.value
        e, s, _ = shifted_exp(x, self.axis)
        return e / s

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        y = self.output()
        return (y * (gy - _sum(gy * y, axis=self.axis, keepdims=True)),)

    def jvp(self, dx: Any) -> Any:
        xp = namespace(dx)
        return self.y * (dx - xp.sum(dx * self.y, axis=self.axis, keepdims=True))


class LogSumExp(Function):
    """y = log(sum(exp(x))) along ``axis``; dx = gy * softmax(x)."""

    save_inputs = (0,)

    def __init__(self, axis: int, keepdims: bool):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x: Any) -> Any:
        xp = namespace(x)
        e, s, shift = shifted_exp(x, self.axis)
        self.p = e / s
        y = xp.log(s) + shift
        return y if self.keepdims else xp.squeeze(y, axis=self.axis)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        (x,) = self.saved
        if not self.keepdims:
            gy = reshape(gy, tuple(1 if i == self.axis else s for i, s in enumerate(x.shape)))
        return (broadcast_to(gy, x.shape) * Softmax(self.axis)(x),)

    def jvp(self, dx: Any) -> Any:
        return namespace(dx).sum(self.p * dx, axis=self.axis, keepdims=self.keepdims)


def shifted_exp(x: Any, axis: int) -> tuple[Any, Any, Any]:
    """exp(x - m), its sum along ``axis`` and m (kept axes), m the maximum (0 where not finite).

    On arrays; shared by the softmax family and the fused cross-entropy.
    """
    xp = namespace(x)
    m = xp.max(x, axis=axis, keepdims=True)
    shift = xp.where(xp.isfinite(m), m, 0)
    e = xp.exp(x - shift)
    return e, xp.sum(e, axis=axis, keepdims=True), shift


def _axis(op: str, x: Tensor, axis: int) -> int:
    (a,) = normalize_axes(op, axis, x.ndim)
    return a


def softmax(x: Any, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``."""
    x = tensor_arg("softmax", x)
    return Softmax(_axis("softmax", x, axis))(x)


def logsumexp(x: Any, axis: int = -1, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) along ``axis``, shifted by the maximum."""
    x = tensor_arg("logsumexp", x)
    return LogSumExp(_axis("logsumexp", x, axis), keepdims)(x)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along ``axis``."""
    x = tensor_arg("log_softmax", x)
    return x - logsumexp(x, axis=axis, keepdims=True)
