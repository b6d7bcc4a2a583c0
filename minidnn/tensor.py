"""The Tensor: a backend array in a computation graph.

A tensor holds

``data``
    the array (NumPy, CuPy or array-api-strict);
``requires_grad``
    gradients with respect to it are wanted (a leaf set up by the user) or it was computed, in grad
    mode, from such a tensor;
``creator``
    the :class:`~minidnn.function.Function` node that produced it (``None`` for leaves and for
    results computed without recording);
``tangent``
    an array of the same shape carried along by forward-mode differentiation: the directional
    derivative of this value when the leaves move along their tangents (``None`` means zero).

Operators (``+ - * / ** @``, indexing, comparisons) and a few methods call the differentiable
functions of :mod:`minidnn.ops`.

Payloads are numbers: boolean, integer or real floating arrays. Strings, objects and complex values
are refused when the tensor is made. The values reach the host only on request: ``t.numpy()`` (a
copy, through the backend's ``to_host``), ``numpy.asarray(t)`` for a tensor on the CPU (a tensor on
another device refuses the implicit copy), and ``repr(t)``, which shows them abbreviated as NumPy
prints arrays.
"""

from __future__ import annotations

from typing import Any

import numpy

from minidnn import backend as _backend

NUMERIC_KINDS = ("bool", "integral", "real floating")
"""The dtype kinds a tensor holds (Array API names)."""


class Tensor:
    """A backend array in a computation graph (see the module docstring)."""

    __slots__ = ("data", "requires_grad", "creator", "tangent", "name")
    __array_priority__ = 1000.0  # NumPy arrays defer to the reflected operators below

    def __init__(self, data: Any, requires_grad: bool = False, tangent: Any = None, name: str | None = None):
        if isinstance(data, Tensor):
            raise TypeError("Tensor(data): data is already a Tensor; use .detach() for a new leaf")
        given = type(data).__name__
        try:
            owner = _backend.of(data)
        except TypeError:
            owner = _backend.get("numpy")
            data = _host_values(owner, data)
        if not owner.xp.isdtype(data.dtype, NUMERIC_KINDS):
            raise TypeError(
                f"Tensor(data): data must hold numbers (bool, integer or real floating), got dtype "
                f"{data.dtype} from {given}"
            )
        if requires_grad and not _is_floating(owner, data):
            raise ValueError(f"requires_grad needs a floating dtype, got {data.dtype}")
        self.data = data
        self.requires_grad = bool(requires_grad)
        self.creator = None
        self.tangent = _checked_tangent(data, tangent)
        self.name = name

    # -- construction without checks, for the functions that make results -------------------------
    @staticmethod
    def _make(data: Any, creator: Any, tangent: Any) -> Tensor:
        t = object.__new__(Tensor)
        t.data = data
        t.requires_grad = creator is not None
        t.creator = creator
        t.tangent = tangent
        t.name = None
        return t

    # -- array facts --------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    @property
    def backend(self) -> _backend.Backend:
        return _backend.of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        """Values as NumPy prints them (abbreviated past its print threshold), shape, dtype, graph facts.

        The values come over through the backend's ``to_host`` (one counted transfer off the CPU).
        """
        values = numpy.array2string(self.backend.to_host(self.data), separator=", ", prefix="Tensor(")
        extra = f", backend={self.backend.name}" if self.backend.name != "numpy" else ""
        extra += ", requires_grad=True" if self.requires_grad else ""
        extra += f", creator={type(self.creator).__name__}" if self.creator is not None else ""
        extra += ", tangent=..." if self.tangent is not None else ""
        return f"Tensor({values}, shape={self.shape}, dtype={_dtype_name(self.dtype)}{extra})"

    def __bool__(self) -> bool:
        raise TypeError("the truth value of a Tensor is ambiguous; compare t.item() instead")

    def detach(self) -> Tensor:
        """The same data as a new tensor outside any graph, without tangent."""
        return Tensor._make(self.data, None, None)

    def item(self) -> float:
        """The value of a one-element tensor as a Python float (an explicit host transfer)."""
        return self.backend.to_float(self.data)

    __float__ = item

    def to_host(self) -> Any:
        """The data as a NumPy array (an explicit host transfer; shares memory on the NumPy backend)."""
        return self.backend.to_host(self.data)

    def numpy(self) -> numpy.ndarray:
        """A NumPy copy of the values, through the backend's ``to_host``; never shares memory."""
        host = self.backend.to_host(self.data)
        return numpy.array(host, copy=True) if self.backend.name == "numpy" else host

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> numpy.ndarray:
        """``numpy.asarray(t)``: the values of a tensor on the CPU (NumPy's ``dtype`` and ``copy``).

        A tensor on another device refuses: an implicit device-to-host copy would hide a transfer.
        """
        if self.backend.name != "numpy":
            raise TypeError(
                f"numpy.asarray(tensor): the tensor lives on backend {self.backend.name}, not on the CPU, "
                "and is not copied implicitly; call tensor.numpy() or backend.to_host(tensor.data)"
            )
        return numpy.asarray(self.data, dtype=dtype, copy=copy)

    # -- operators ------------------------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.div(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pow__(self, exponent: float) -> Tensor:
        return _ops.pow(self, exponent)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def __lt__(self, other: Any) -> Tensor:
        return _ops.compare("less", self, other)

    def __le__(self, other: Any) -> Tensor:
        return _ops.compare("less_equal", self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _ops.compare("greater", self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _ops.compare("greater_equal", self, other)

    # -- methods --------------------------------------------------------------------------------------
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.mean(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        return _ops.reshape(
            self, shape[0] if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        )

    def transpose(self, *axes: int) -> Tensor:
        return _ops.transpose(
            self, axes[0] if len(axes) == 1 and isinstance(axes[0], tuple | list) else axes or None
        )

    @property
    def T(self) -> Tensor:  # noqa: N802 (the array convention)
        return _ops.transpose(self)


def _host_values(owner: _backend.Backend, data: Any) -> Any:
    """Python numbers, nested lists and the like as an array of the NumPy backend."""
    try:
        return owner.to_device(data)
    except (TypeError, ValueError) as err:
        raise TypeError(f"Tensor(data): cannot make an array from {type(data).__name__}: {err}") from err


def _dtype_name(dtype: Any) -> str:
    """ "float32" for NumPy's and CuPy's dtypes and for array-api-strict's ``array_api_strict.float32``."""
    return getattr(dtype, "name", None) or str(dtype).rsplit(".", 1)[-1]


def _is_floating(owner: _backend.Backend, data: Any) -> bool:
    return owner.xp.isdtype(data.dtype, "real floating")


def _checked_tangent(data: Any, tangent: Any) -> Any:
    if tangent is None:
        return None
    if isinstance(tangent, Tensor):
        tangent = tangent.data
    if type(tangent) is not type(data) and _backend.of(tangent) is not _backend.of(data):
        raise ValueError(
            f"tangent lives on backend {_backend.of(tangent).name}, data on {_backend.of(data).name}"
        )
    if tuple(tangent.shape) != tuple(data.shape) or tangent.dtype != data.dtype:
        raise ValueError(
            f"tangent must match the data: got shape {tuple(tangent.shape)} {tangent.dtype}, "
            f"data has shape {tuple(data.shape)} {data.dtype}"
        )
    return tangent


from minidnn import ops as _ops  # noqa: E402  (the operators above call into it at run time)
