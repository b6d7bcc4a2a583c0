"""Turning arguments into tensors, with the checks every function makes before computing.

Errors name the function and the shapes: mixing backends or dtypes, shapes that do not broadcast,
arguments that are neither tensors, backend arrays nor Python numbers.

Scalars: a Python number or a NumPy real scalar (``numpy.float64(2)``, ``numpy.int32(3)``; not a
bool) combines with a tensor in the tensor's dtype, as PyTorch treats Python and NumPy scalars, so
``x * numpy.float64(2)`` stays float32 for a float32 ``x``. A 0-d array is an array: its dtype must
match.
"""

from __future__ import annotations

from typing import Any

import numpy

from minidnn import backend as _backend
from minidnn.tensor import Tensor


def tensor_arg(op: str, x: Any) -> Tensor:
    """``x`` as a tensor: a backend array becomes a constant (no gradient flows to it)."""
    if isinstance(x, Tensor):
        return x
    try:
        _backend.of(x)
    except TypeError:
        raise TypeError(f"{op}: expected a Tensor or a backend array, got {type(x).__name__}") from None
    return Tensor._make(x, None, None)


def scalar(x: Any) -> int | float | None:
    """``x`` as a Python number when it is a scalar (see the module docstring), else ``None``."""
    if isinstance(x, bool | numpy.bool_):
        return None
    if isinstance(x, numpy.integer | numpy.floating):
        return x.item()
    if isinstance(x, int | float):
        return x
    return None


def is_scalar(x: Any) -> bool:
    """True for Python numbers and NumPy real scalars (not bools): they take the tensor's dtype."""
    return scalar(x) is not None


def pair(op: str, a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Both operands as tensors of one backend and one dtype, with broadcastable shapes."""
    a, b = same_kind(op, a, b)
    if a.data.shape != b.data.shape:
        broadcast_shape(op, a.shape, b.shape)
    return a, b


def same_kind(op: str, a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Both operands as tensors of one backend and one dtype."""
    a, b = tensor_arg(op, a), tensor_arg(op, b)
    if type(a.data) is not type(b.data) and a.backend is not b.backend:
        raise ValueError(
            f"{op}: operands live on different backends ({a.backend.name} with shape {a.shape}, "
            f"{b.backend.name} with shape {b.shape}); move one with Backend.to_device"
        )
    if a.data.dtype != b.data.dtype:
        raise ValueError(
            f"{op}: operands have different dtypes ({a.dtype} with shape {a.shape}, {b.dtype} with "
            f"shape {b.shape}); convert one explicitly"
        )
    return a, b


def broadcast_shape(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape the given shapes broadcast to, or a ValueError naming ``op`` and the shapes."""
    ndim = max(len(s) for s in shapes)
    out = []
    for axis in range(-ndim, 0):
        sizes = {s[axis] for s in shapes if len(s) >= -axis} - {1}
        if len(sizes) > 1:
            raise ValueError(f"{op}: shapes {' and '.join(str(tuple(s)) for s in shapes)} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def normalize_axes(op: str, axis: int | tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    """Axes as a sorted tuple of non-negative ints (all axes for ``None``), checked against ``ndim``."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of {ndim} dimensions")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def expand_tangent(t: Any, shape: tuple[int, ...]) -> Any:
    """A tangent broadcast to the output shape (a view)."""
    if tuple(t.shape) == shape:
        return t
    return _backend.of(t).xp.broadcast_to(t, shape)
