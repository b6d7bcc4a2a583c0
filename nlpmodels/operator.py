"""Linear operators v -> H v over a model's device.

On NumPy, ``hess_op`` returns a ``scipy.sparse.linalg.LinearOperator`` (so SciPy's iterative solvers
accept it). On other backends SciPy cannot hold device arrays; :class:`DeviceLinearOperator` offers the
same core interface (``shape``, ``dtype``, ``matvec``, ``@``, ``dot``) without leaving the device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scipy.sparse.linalg import LinearOperator

from minidnn.backend import Backend


class DeviceLinearOperator:
    """A symmetric operator given by its product, on any backend."""

    def __init__(self, shape: tuple[int, int], dtype: Any, matvec: Callable[[Any], Any]):
        self.shape = shape
        self.dtype = dtype
        self._matvec = matvec

    def matvec(self, v: Any) -> Any:
        return self._matvec(v)

    def dot(self, v: Any) -> Any:
        return self._matvec(v)

    def __matmul__(self, v: Any) -> Any:
        return self._matvec(v)

    def rmatvec(self, v: Any) -> Any:
        """The adjoint product; the operator is symmetric."""
        return self._matvec(v)

    def __repr__(self) -> str:
        return f"DeviceLinearOperator(shape={self.shape}, dtype={self.dtype})"


def symmetric_operator(backend: Backend, n: int, dtype: Any, matvec: Callable[[Any], Any]) -> Any:
    """A LinearOperator on NumPy, a DeviceLinearOperator elsewhere."""
    if backend.name == "numpy":

        def product(v: Any) -> Any:
            return matvec(v.reshape(-1).astype(dtype, copy=False))

        return LinearOperator((n, n), matvec=product, rmatvec=product, dtype=dtype)
    return DeviceLinearOperator((n, n), dtype, matvec)
