"""Max and average pooling over windows, as weighted gathers whose adjoints are scatter-adds.

Both poolings are gathers over the kernel offsets (i, j) of each window,

    y[n, c, p, q] = sum_{i, j} a_ij[n, c, p, q] * x~[n, c, p*SH + i, q*SW + j]        (WindowGather)

with x~ the zero-padded input and the weights a_ij:

- average pooling: a_ij = 1 / (KH*KW) everywhere. Padding counts in the average (PyTorch's default
  ``count_include_pad=True``): a window that overlaps the padding is still divided by KH*KW.
- max pooling: a_ij = 1 at the window's first maximum (row-major order over (i, j); PyTorch's rule
  on ties), 0 elsewhere, the maximum being taken over x padded with -inf. The weights are constants
  of the graph, as the mask of relu is: max pooling is piecewise linear. They are kept as boolean
  masks, one byte a value, and multiply as 0 and 1 (see :mod:`minidnn.ops.buffers`).

The adjoint of a gather is the scatter that adds a_ij * g back at the positions read, accumulating
where windows overlap (``WindowScatter``, one strided add per kernel offset, or a strided write
where windows cannot overlap); the adjoint of that
scatter is the gather again, so both backward passes are differentiable and second derivatives are
exact. Tangents are gathered at the same positions (the jvp of max pooling gathers dx at the argmax).
Following PyTorch, padding may not exceed half the kernel, so every window holds an input element.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

from minidnn import backend as _backend
from minidnn.function import Function
from minidnn.ops import buffers
from minidnn.ops.operands import tensor_arg
from minidnn.ops.windows import (
    FROM_BATCH_INNERMOST,
    TO_BATCH_INNERMOST,
    Window,
    batch_innermost,
    check_4d,
    check_fits,
    check_floating,
    crop_to_nchw,
    int_pair,
)
from minidnn.tensor import Tensor

Weights = float | list[Any]  # one weight for all offsets, or one (C, OH, OW, N) boolean mask per offset


class WindowGather(Function):
    """y[n, c, p, q] = sum_{i, j} a_ij[n, c, p, q] * x~[n, c, p*SH + i, q*SW + j] (x~ zero-padded)."""

    def __init__(self, window: Window, weights: Weights):
        self.window = window
        self.weights = weights

    def forward(self, x: Any) -> Any:
        self.x_shape = tuple(x.shape)
        return gather(x, self.window, self.weights)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (WindowScatter(self.window, self.weights, self.x_shape)(gy),)

    def jvp(self, dx: Any) -> Any:
        return gather(dx, self.window, self.weights)


class WindowScatter(Function):
    """x[n, c, p*SH + i - PH, q*SW + j - PW] += a_ij[n, c, p, q] * g[n, c, p, q] (the gather's adjoint)."""

    def __init__(self, window: Window, weights: Weights, x_shape: tuple[int, ...]):
        self.window = window
        self.weights = weights
        self.x_shape = x_shape

    def forward(self, g: Any) -> Any:
        return scatter(g, self.window, self.weights, self.x_shape)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (WindowGather(self.window, self.weights)(gy),)

    def jvp(self, dg: Any) -> Any:
        return scatter(dg, self.window, self.weights, self.x_shape)


class MaxPool2d(WindowGather):
    """y = the maximum of each window of x padded with -inf; a gather whose weights mark the argmax.

    The argmax masks are made on first use (by the backward pass or a tangent), so a forward pass
    that is not differentiated, such as an evaluation, pays only for the maxima.
    """

    def __init__(self, window: Window):
        self.window = window

    def forward(self, x: Any) -> Any:
        self.x_shape = tuple(x.shape)
        xp = _backend.of(x).xp
        self.parts = _offset_views(
            batch_innermost(x, self.window.padding, -math.inf, c_order=False), self.window, x.shape
        )
        self.best = self.parts[0]
        if len(self.parts) > 1:
            self.best = buffers.elementwise(xp.maximum, self.parts[0], self.parts[1])
            for part in self.parts[2:]:
                self.best = buffers.update(xp.maximum, self.best, part)
        return xp.permute_dims(self.best, FROM_BATCH_INNERMOST)

    @cached_property
    def weights(self) -> list[Any]:
        masks = first_maximum_masks(self.parts, self.best)
        del self.parts, self.best
        return masks


def first_maximum_masks(parts: list[Any], best: Any) -> list[Any]:
    """Per kernel offset, True where that offset holds the window's first maximum (row-major)."""
    xp = _backend.of(best).xp
    masks, taken = [], None
    for part in parts:
        hit = buffers.elementwise(xp.equal, part, best, dtype=xp.bool)
        if taken is not None:
            hit = buffers.update(xp.logical_and, hit, buffers.elementwise(xp.logical_not, taken))
            taken = buffers.elementwise(xp.logical_or, taken, hit)
        else:
            taken = hit
        masks.append(hit)
    return masks


def gather(x: Any, window: Window, weights: Weights) -> Any:
    """sum_{i, j} a_ij * (the (i, j) element of every window of x~), as (N, C, OH, OW)."""
    xp = _backend.of(x).xp
    parts = _offset_views(batch_innermost(x, window.padding, 0.0, c_order=False), window, x.shape)
    if isinstance(weights, float):
        y = parts[0] if len(parts) == 1 else buffers.elementwise(xp.add, parts[0], parts[1])
        for part in parts[2:]:
            y = buffers.update(xp.add, y, part)
        y = buffers.elementwise(xp.multiply, y, weights)
    else:
        y = buffers.masked(parts[0], weights[0])
        for part, a in zip(parts[1:], weights[1:]):
            y = buffers.update(xp.add, y, buffers.masked(part, a))
    return xp.permute_dims(y, FROM_BATCH_INNERMOST)


def scatter(g: Any, window: Window, weights: Weights, x_shape: tuple[int, ...]) -> Any:
    """Adds a_ij * g back at the (i, j) element of every window; an (N, C, H, W) result.

    Windows that cannot overlap (stride >= kernel) write their elements instead of adding them,
    straight into the result; where they also tile the padded input, nothing is zeroed first.
    """
    xp = _backend.of(g).xp
    n, c, h, w = x_shape
    ph, pw = window.padding
    out = window.output_size(h, w)
    gt = xp.permute_dims(g, TO_BATCH_INNERMOST)
    if isinstance(weights, float):
        gt = buffers.elementwise(xp.multiply, gt, weights)
    overlap = any(s < k for s, k in zip(window.stride, window.kernel))
    shape = (c, h + 2 * ph, w + 2 * pw, n)
    buf = buffers.empty(g, shape) if _tiles(window, shape, out) else buffers.zeros(g, shape)
    for k, (i, j) in enumerate(window.offsets()):
        index = (slice(None), *window.offset_slices(i, j, out), slice(None))
        if overlap:
            buf[index] += gt if isinstance(weights, float) else buffers.masked(gt, weights[k])
        elif isinstance(weights, float):
            buf[index] = gt
        else:
            buffers.assign_masked(buf, index, gt, weights[k])
    return crop_to_nchw(buf, window.padding)


def _tiles(window: Window, padded: tuple[int, ...], out: tuple[int, int]) -> bool:
    """True when the windows cover the padded input exactly once (stride = kernel, no remainder)."""
    (kh, kw), (sh, sw) = window.kernel, window.stride
    return (sh, sw) == (kh, kw) and out[0] * kh == padded[1] and out[1] * kw == padded[2]


def _offset_views(buf: Any, window: Window, x_shape: tuple[int, ...]) -> list[Any]:
    """Per kernel offset (i, j), the (C, OH, OW, N) view of the padded buffer read by the windows."""
    out = window.output_size(x_shape[2], x_shape[3])
    views = []
    for i, j in window.offsets():
        rows, columns = window.offset_slices(i, j, out)
        views.append(buf[:, rows, columns, :])
    return views


def max_pool2d(
    x: Any,
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> Tensor:
    """The maximum over each window of x (N, C, H, W): y (N, C, OH, OW).

    ``stride`` defaults to the kernel; ``padding`` pads with -inf (at most half the kernel). The
    gradient goes to the first maximum of each window (row-major) and accumulates where windows
    overlap.
    """
    window, x = _checked("max_pool2d", x, kernel, stride, padding)
    return MaxPool2d(window)(x)


def avg_pool2d(
    x: Any,
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
) -> Tensor:
    """The mean over each window of x (N, C, H, W): y (N, C, OH, OW).

    ``stride`` defaults to the kernel; ``padding`` pads with zeros (at most half the kernel) that
    count in the average: every window is divided by KH*KW (PyTorch's ``count_include_pad=True``).
    """
    window, x = _checked("avg_pool2d", x, kernel, stride, padding)
    kh, kw = window.kernel
    return WindowGather(window, 1.0 / (kh * kw))(x)


def _checked(op: str, x: Any, kernel: Any, stride: Any, padding: Any) -> tuple[Window, Tensor]:
    """The window and x as a tensor, after every check on shapes and arguments."""
    x = tensor_arg(op, x)
    context = f"x shape {x.shape}"
    check_4d(op, "x", x.shape)
    check_floating(op, x)
    k = int_pair(op, "kernel", kernel, 1, context)
    window = Window(
        kernel=k,
        stride=k if stride is None else int_pair(op, "stride", stride, 1, context),
        padding=int_pair(op, "padding", padding, 0, context),
    )
    (ph, pw), (kh, kw) = window.padding, window.kernel
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"{op}: padding {ph}x{pw} exceeds half the kernel {kh}x{kw} ({context})")
    check_fits(op, window, x.shape, context)
    return window, x
