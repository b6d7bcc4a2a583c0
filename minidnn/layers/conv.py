"""Conv2d: 2-D cross-correlation (as PyTorch and Chainer; Knet's default flips the kernel) over NCHW input.

Weight (out, in, kh, kw), bias (out,); output (N, out, OH, OW) with OH = (H + 2 ph - kh) // sh + 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minidnn.layers.arguments import boolean, initializer, int_pair, positive_int
from minidnn.layers.layer import Layer, ParameterSpec
from minidnn.ops.conv import conv2d
from minidnn.tensor import Tensor


class Conv2d(Layer):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
        init: str | Callable[..., Any] = "glorot_uniform",
    ):
        self.in_channels = positive_int("Conv2d", "in_channels", in_channels)
        self.out_channels = positive_int("Conv2d", "out_channels", out_channels)
        self.kernel_size = int_pair("Conv2d", "kernel_size", kernel_size)
        self.stride = int_pair("Conv2d", "stride", stride)
        self.padding = int_pair("Conv2d", "padding", padding, minimum=0)
        self.has_bias = boolean("Conv2d", "bias", bias)
        self.init = initializer("Conv2d", "init", init)
        self.weight: Tensor | None = None
        self.bias: Tensor | None = None

    def specs(self) -> tuple[ParameterSpec, ...]:
        weight = ParameterSpec("weight", (self.out_channels, self.in_channels, *self.kernel_size), self.init)
        return (weight, ParameterSpec("bias", (self.out_channels,), "zeros")) if self.has_bias else (weight,)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 4 or shape[1] != self.in_channels:
            raise ValueError(f"{self!r}: expected input of shape (N, {self.in_channels}, H, W), got {shape}")
        out = []
        for size, k, s, p in zip(shape[2:], self.kernel_size, self.stride, self.padding):
            if size + 2 * p < k:
                raise ValueError(f"{self!r}: input {shape} is smaller than the kernel {self.kernel_size}")
            out.append((size + 2 * p - k) // s + 1)
        return (shape[0], self.out_channels, *out)

    def check_input(self, x: Tensor) -> None:
        self.output_shape(x.shape)

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(x, self.weight, self.bias if self.has_bias else None, self.stride, self.padding)

    def __repr__(self) -> str:
        k = "x".join(map(str, self.kernel_size))
        extra = "" if self.stride == (1, 1) else f", stride={self.stride}"
        extra += "" if self.padding == (0, 0) else f", padding={self.padding}"
        return f"Conv2d({self.in_channels} -> {self.out_channels}, {k}{extra})"
