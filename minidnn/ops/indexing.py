"""Indexing: ``x[index]`` and ``take_along_axis``, with their adjoints (scatter-adds).

The adjoint of a gather puts the incoming gradient back where the values were taken from, adding
where an index repeats; the adjoint of that scatter is the gather again, so both are differentiable.
Basic indices (ints, slices, ``None``, ``...``) never repeat and scatter by assignment; integer-array
indices use the backend's scatter-add.
"""

from __future__ import annotations

from typing import Any

from minidnn import backend as _backend
from minidnn.backend import namespace
from minidnn.function import Function
from minidnn.ops.operands import tensor_arg
from minidnn.ops.shape import reshape
from minidnn.tensor import Tensor


class GetItem(Function):
    """y = x[index]."""

    def __init__(self, index: Any):
        self.index = index

    def forward(self, x: Any) -> Any:
        self.x_shape = tuple(x.shape)
        return x[self.index]

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (ScatterItem(self.index, self.x_shape)(gy),)

    def jvp(self, dx: Any) -> Any:
        return dx[self.index]


class ScatterItem(Function):
    """y = zeros(shape) with y[index] += x: the adjoint of ``GetItem``."""

    def __init__(self, index: Any, shape: tuple[int, ...]):
        self.index = index
        self.shape = shape

    def forward(self, x: Any) -> Any:
        backend = _backend.of(x)
        y = backend.zeros(self.shape, x.dtype)
        if _backend.is_basic_index(self.index):
            y[self.index] = x
            return y
        return backend.add_at(y, self.index, x)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (GetItem(self.index)(gy),)

    def jvp(self, dx: Any) -> Any:
        return self.forward(dx)


class TakeAlongAxis(Function):
    """y = take_along_axis(x, indices, axis)."""

    def __init__(self, indices: Any, axis: int):
        self.indices = indices
        self.axis = axis

    def forward(self, x: Any) -> Any:
        self.x_shape = tuple(x.shape)
        return namespace(x).take_along_axis(x, self.indices, axis=self.axis)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (AddAlongAxis(self.indices, self.axis, self.x_shape)(gy),)

    def jvp(self, dx: Any) -> Any:
        return namespace(dx).take_along_axis(dx, self.indices, axis=self.axis)


class AddAlongAxis(Function):
    """y = zeros(shape) with x added at ``indices`` along ``axis``: the adjoint of ``TakeAlongAxis``."""

    def __init__(self, indices: Any, axis: int, shape: tuple[int, ...]):
        self.indices = indices
        self.axis = axis
        self.shape = shape

    def forward(self, x: Any) -> Any:
        return _backend.of(x).add_along_axis(self.shape, self.indices, x, self.axis)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (TakeAlongAxis(self.indices, self.axis)(gy),)

    def jvp(self, dx: Any) -> Any:
        return self.forward(dx)


def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]`` with NumPy indexing; integer arrays and tensors may appear in the index.

    New axes (``None``) in a basic index are inserted by a reshape after the gather, so that the
    scatter of the backward pass only ever assigns through ints and slices.
    """
    x = tensor_arg("getitem", x)
    index = _plain_index(index)
    new_axes: list[int] = []
    if _backend.is_basic_index(index):
        index, new_axes = _split_new_axes(index, x.ndim)
    try:
        y = GetItem(index)(x)
    except (IndexError, TypeError, ValueError) as err:
        raise IndexError(f"getitem: index {index!r} is invalid for shape {x.shape}: {err}") from None
    if new_axes:
        shape = list(y.shape)
        for axis in new_axes:
            shape.insert(axis, 1)
        y = reshape(y, shape)
    return y


def take_along_axis(x: Any, indices: Any, axis: int = -1) -> Tensor:
    """Gathers ``x`` along ``axis`` at integer ``indices`` of the same number of dimensions."""
    x = tensor_arg("take_along_axis", x)
    idx = indices.data if isinstance(indices, Tensor) else indices
    xp = namespace(x.data)
    if type(idx) is not type(x.data) or not xp.isdtype(idx.dtype, "integral"):
        raise ValueError(
            f"take_along_axis: indices must be an integer array of the same backend as x {x.shape}, "
            f"got {type(idx).__name__} {getattr(idx, 'dtype', '')}"
        )
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices have shape {tuple(idx.shape)}, x has shape {x.shape}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"take_along_axis: axis {axis} is out of range for shape {x.shape}")
    return TakeAlongAxis(idx, axis % x.ndim)(x)


def _split_new_axes(index: Any, ndim: int) -> tuple[tuple[Any, ...], list[int]]:
    """A basic index without ``None`` (ellipsis expanded), and the output axes where ``None`` stood."""
    items = index if isinstance(index, tuple) else (index,)
    if not any(i is Ellipsis for i in items):
        items = items + (Ellipsis,)
    consumed = sum(1 for i in items if i is not None and i is not Ellipsis)
    expanded: list[Any] = []
    for i in items:
        expanded.extend([slice(None)] * (ndim - consumed) if i is Ellipsis else [i])
    new_axes, out_axis = [], 0
    for i in expanded:
        if i is None:
            new_axes.append(out_axis)
        if not isinstance(i, int):
            out_axis += 1
    return tuple(i for i in expanded if i is not None), new_axes


def _plain_index(index: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index.data if isinstance(index, Tensor) else index
