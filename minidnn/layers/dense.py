"""Dense (fully connected) layer: y = x W^T + b, W of shape (out, in) as in Knet and PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minidnn.layers.arguments import boolean, initializer, positive_int
from minidnn.layers.layer import Layer, ParameterSpec
from minidnn.ops import matmul
from minidnn.ops.linear import linear
from minidnn.tensor import Tensor


class Dense(Layer):
    """x (N, in) -> x W^T + b (N, out); Glorot-uniform weight and zero bias by default."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: str | Callable[..., Any] = "glorot_uniform",
    ):
        self.in_features = positive_int("Dense", "in_features", in_features)
        self.out_features = positive_int("Dense", "out_features", out_features)
        self.has_bias = boolean("Dense", "bias", bias)
        self.init = initializer("Dense", "init", init)
        self.weight: Tensor | None = None
        self.bias: Tensor | None = None

    def specs(self) -> tuple[ParameterSpec, ...]:
        weight = ParameterSpec("weight", (self.out_features, self.in_features), self.init)
        return (weight, ParameterSpec("bias", (self.out_features,), "zeros")) if self.has_bias else (weight,)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 2 or shape[1] != self.in_features:
            raise ValueError(f"{self!r}: expected input of shape (N, {self.in_features}), got {shape}")
        return (shape[0], self.out_features)

    def check_input(self, x: Tensor) -> None:
        self.output_shape(x.shape)

    def forward(self, x: Tensor) -> Tensor:
        if self.has_bias:
            return linear(x, self.weight, self.bias)
        return matmul(x, self.weight, transb=True)

    def __repr__(self) -> str:
        return f"Dense({self.in_features} -> {self.out_features}{'' if self.has_bias else ', bias=False'})"
