"""Activation layers: elementwise maps without parameters."""

from __future__ import annotations

from minidnn import ops
from minidnn.layers.arguments import positive_float
from minidnn.layers.layer import Layer
from minidnn.ops.elu import elu
from minidnn.tensor import Tensor


class ReLU(Layer):
    """max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.relu(x)


class Sigmoid(Layer):
    """1 / (1 + exp(-x)), stable for large |x|."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.sigmoid(x)


class Tanh(Layer):
    """tanh(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.tanh(x)


class Softplus(Layer):
    """log(1 + exp(x)), stable for large |x|."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.softplus(x)


class ELU(Layer):
    """x for x > 0, alpha (exp(x) - 1) otherwise (Clevert et al. 2016)."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = positive_float("ELU", "alpha", alpha)

    def forward(self, x: Tensor) -> Tensor:
        return elu(x, self.alpha)

    def __repr__(self) -> str:
        return f"ELU(alpha={self.alpha})"


class Identity(Layer):
    """x."""

    def forward(self, x: Tensor) -> Tensor:
        return x
