"""Flatten: (N, d1, d2, ...) -> (N, d1 d2 ...), keeping the batch axis."""

from __future__ import annotations

import math

from minidnn.layers.layer import Layer
from minidnn.ops import reshape
from minidnn.tensor import Tensor


class Flatten(Layer):
    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) < 2:
            raise ValueError(f"Flatten: expected input of shape (N, ...) with at least 2 axes, got {shape}")
        return (shape[0], math.prod(shape[1:]))

    def check_input(self, x: Tensor) -> None:
        self.output_shape(x.shape)

    def forward(self, x: Tensor) -> Tensor:
        return reshape(x, (x.shape[0], -1))
