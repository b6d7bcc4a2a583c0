"""Softmax cross-entropy on logits with integer labels, and its gradient, each one node.

For logits z (N, C), labels y in 0..C-1 (Knet's ``nll`` with labels from 0), p = softmax(z) by rows
and Y the one-hot labels:

    loss = 1/N sum_i [ logsumexp(z_i) - z_{i, y_i} ]          (shifted by the row maximum: finite
    d loss / dz = (p - Y) / N                                   and exact for logits of +-1e4)

The gradient is itself a node, ``CrossEntropyGrad(z, gy) = (p - Y) gy / N``, with its own exact
derivatives, so second derivatives cost two nodes instead of a chain of small ones:

    jvp:       d g = gy/N * p * (dz - <p, dz>_row) + (p - Y) dgy / N
    backward:  gz  = gy/N * p * (G - <p, G>_row),   ggy = <G, p - Y> / N
"""

from __future__ import annotations

from typing import Any

from minidnn import backend as _backend
from minidnn.backend import namespace
from minidnn.function import Function
from minidnn.ops.arithmetic import Mul, MulConst, Sub
from minidnn.ops.reduction import Sum
from minidnn.ops.softmax import Softmax, shifted_exp
from minidnn.tensor import Tensor


class SoftmaxCrossEntropy(Function):
    """The mean cross-entropy of logits z against labels."""

    save_inputs = (0,)

    def __init__(self, labels: Any):
        self.labels = labels

    def forward(self, z: Any) -> Any:
        xp = namespace(z)
        n, c = z.shape
        e, s, shift = shifted_exp(z, 1)
        self.p = e / s
        self.onehot = xp.astype(xp.reshape(self.labels, (n, 1)) == _backend.of(z).arange(c), z.dtype)
        picked = xp.sum(z * self.onehot, axis=1, keepdims=True)
        return xp.sum(xp.log(s) + shift - picked) / n

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        (z,) = self.saved
        return (CrossEntropyGrad(self.p, self.onehot)(z, gy),)

    def jvp(self, dz: Any) -> Any:
        return namespace(dz).sum((self.p - self.onehot) * dz) / dz.shape[0]


class CrossEntropyGrad(Function):
    """g = (softmax(z) - Y) gy / N, given p = softmax(z) already computed from the same z."""

    save_inputs = (0, 1)

    def __init__(self, p: Any, onehot: Any):
        self.p = p
        self.onehot = onehot

    def forward(self, z: Any, gy: Any) -> Any:
        self.scale = gy / z.shape[0]
        return (self.p - self.onehot) * self.scale

    def backward(self, g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        z, gy = self.saved
        n = z.shape[0]
        p = Softmax(1, value=self.p)(z)
        gz = ggy = None
        if self.needs_grad(0):
            inner = Sub()(g, Sum((1,), True)(Mul()(g, p)))
            gz = Mul()(Mul()(p, inner), MulConst(1.0 / n)(gy))
        if self.needs_grad(1):
            residual = Sub()(p, Tensor._make(self.onehot, None, None))
            ggy = MulConst(1.0 / n)(Sum((0, 1), False)(Mul()(g, residual)))
        return gz, ggy

    def jvp(self, dz: Any, dgy: Any) -> Any:
        xp = namespace(dz if dz is not None else dgy)
        out = None
        if dz is not None:
            out = self.p * (dz - xp.sum(dz * self.p, axis=1, keepdims=True)) * self.scale
        if dgy is not None:
            term = (self.p - self.onehot) * (dgy / self.p.shape[0])
            out = term if out is None else out + term
        return out
