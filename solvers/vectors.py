"""Vector reductions on the model's device, turned into Python floats (one explicit transfer each).

Solvers branch on a few scalars per iteration (norms, slopes, curvatures); these are the only values
that leave the device. Everything else stays an array of the model's backend and dtype.
"""

from __future__ import annotations

from typing import Any

from minidnn.backend import Backend


def dot(be: Backend, a: Any, b: Any) -> float:
    """aᵀb as a Python float."""
    vecdot = getattr(be.xp, "vecdot", None)
    return be.to_float(vecdot(a, b) if vecdot is not None else be.xp.sum(a * b))


def norm(be: Backend, a: Any) -> float:
    """‖a‖₂ as a Python float."""
    linalg = getattr(be.xp, "linalg", None)
    vector_norm = getattr(linalg, "vector_norm", None)
    if vector_norm is not None:
        return be.to_float(vector_norm(a))
    return dot(be, a, a) ** 0.5


def copy(be: Backend, a: Any) -> Any:
    """A writable copy on the same device."""
    return be.xp.asarray(a, copy=True)
