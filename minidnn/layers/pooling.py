"""Pooling layers over NCHW input: MaxPool2d and AvgPool2d (stride defaults to the window)."""

from __future__ import annotations

from minidnn.layers.arguments import int_pair
from minidnn.layers.layer import Layer
from minidnn.ops.pooling import avg_pool2d, max_pool2d
from minidnn.tensor import Tensor


class _Pool2d(Layer):
    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ):
        name = type(self).__name__
        self.kernel_size = int_pair(name, "kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else int_pair(name, "stride", stride)
        self.padding = int_pair(name, "padding", padding, minimum=0)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 4:
            raise ValueError(f"{self!r}: expected input of shape (N, C, H, W), got {shape}")
        out = []
        for size, k, s, p in zip(shape[2:], self.kernel_size, self.stride, self.padding):
            if size + 2 * p < k:
                raise ValueError(f"{self!r}: input {shape} is smaller than the window {self.kernel_size}")
            out.append((size + 2 * p - k) // s + 1)
        return (*shape[:2], *out)

    def check_input(self, x: Tensor) -> None:
        self.output_shape(x.shape)

    def __repr__(self) -> str:
        extra = "" if self.stride == self.kernel_size else f", stride={self.stride}"
        extra += "" if self.padding == (0, 0) else f", padding={self.padding}"
        return f"{type(self).__name__}({'x'.join(map(str, self.kernel_size))}{extra})"


class MaxPool2d(_Pool2d):
    """The maximum of each window (the gradient goes to the first maximum)."""

    def forward(self, x: Tensor) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """The mean of each window (zero padding counts in the mean)."""

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)
