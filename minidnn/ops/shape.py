"""Shape changes: reshape and transpose (a permutation of the axes); each is its own kind of adjoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minidnn.backend import namespace
from minidnn.function import Function
from minidnn.ops import buffers
from minidnn.ops.operands import tensor_arg
from minidnn.tensor import Tensor


class Reshape(Function):
    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape

    def forward(self, x: Any) -> Any:
        self.x_shape = tuple(x.shape)
        return buffers.reshape(x, self.shape)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        return (reshape(gy, self.x_shape),)

    def jvp(self, dx: Any) -> Any:
        return buffers.reshape(dx, self.shape)


class Transpose(Function):
    def __init__(self, axes: tuple[int, ...]):
        self.axes = axes

    def forward(self, x: Any) -> Any:
        return namespace(x).permute_dims(x, self.axes)

    def backward(self, gy: Tensor) -> tuple[Tensor]:
        inverse = tuple(sorted(range(len(self.axes)), key=self.axes.__getitem__))
        return (Transpose(inverse)(gy),)

    def jvp(self, dx: Any) -> Any:
        return namespace(dx).permute_dims(dx, self.axes)


def reshape(x: Any, shape: Sequence[int]) -> Tensor:
    """The same elements (C order) in a new shape; one entry may be -1."""
    x = tensor_arg("reshape", x)
    shape = _resolve("reshape", x.shape, tuple(int(s) for s in shape))
    return x if shape == x.shape else Reshape(shape)(x)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Permutes the axes (reverses them when ``axes`` is None)."""
    x = tensor_arg("transpose", x)
    axes = (
        tuple(reversed(range(x.ndim))) if axes is None else tuple(a % x.ndim if x.ndim else a for a in axes)
    )
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(
            f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}"
        )
    return Transpose(axes)(x)


def expand_dims(x: Any, axis: int) -> Tensor:
    """Inserts an axis of length 1 at ``axis``."""
    x = tensor_arg("expand_dims", x)
    ndim = x.ndim + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"expand_dims: axis {axis} is out of range for shape {x.shape}")
    axis %= ndim
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def _resolve(op: str, old: tuple[int, ...], new: tuple[int, ...]) -> tuple[int, ...]:
    size = 1
    for s in old:
        size *= s
    known = 1
    for s in new:
        if s != -1:
            known *= s
    if new.count(-1) > 1 or any(s < -1 for s in new):
        raise ValueError(f"{op}: invalid target shape {new}")
    if -1 in new:
        if known == 0 or size % known:
            raise ValueError(f"{op}: cannot reshape {old} into {new}")
        new = tuple(size // known if s == -1 else s for s in new)
    elif known != size:
        raise ValueError(f"{op}: cannot reshape {old} ({size} elements) into {new} ({known} elements)")
    return new
