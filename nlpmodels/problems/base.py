"""What every classic test problem shares: a fixed starting point and, where known, its solution."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy
from minidnn.nlpmodels.model import NLPModel

from minidnn import backend as _backend
from minidnn.backend import Backend


class ClassicProblem(NLPModel):
    """A deterministic unconstrained test problem.

    ``f_star`` is the known optimal value (``None`` when unknown) and ``x_star`` a known minimizer,
    returned as a fresh vector on the model's device and dtype (``None`` when not known in closed
    form). The starting point and the solution are given on the host and moved over once.
    """

    def __init__(
        self,
        x0: Sequence[float] | numpy.ndarray,
        *,
        name: str,
        backend: str | Backend = "numpy",
        dtype: str = "float64",
        f_star: float | None = None,
        x_star: Sequence[float] | numpy.ndarray | None = None,
    ):
        if dtype not in _backend.DTYPE_NAMES:
            raise ValueError(f"{name}: dtype must be one of {_backend.DTYPE_NAMES}, got {dtype!r}")
        super().__init__(numpy.asarray(x0, dtype=dtype), name=name, backend=backend, dtype=dtype)
        self.f_star = f_star
        self._x_star = None if x_star is None else numpy.asarray(x_star, dtype=numpy.float64)

    @property
    def x_star(self) -> Any:
        """A known minimizer on the model's device (a new vector each time), or ``None``."""
        if self._x_star is None:
            return None
        return self.meta.backend.to_device(self._x_star, dtype=self.meta.dtype)

    @property
    def xp(self) -> Any:
        """The array namespace of the model's backend."""
        return self.meta.backend.xp

    def _scalar(self, value: Any) -> float:
        """The one host transfer of an objective evaluation."""
        return self.meta.backend.to_float(value)


def positive_int(name: str, value: Any, *, multiple_of: int = 1, minimum: int = 1) -> int:
    """``value`` as an int, or a ValueError naming the problem and the rule it breaks."""
    if isinstance(value, bool) or not isinstance(value, int | numpy.integer):
        raise ValueError(f"{name}: n must be an integer, got {value!r}")
    if value < minimum or value % multiple_of:
        rule = f"a multiple of {multiple_of} " if multiple_of > 1 else ""
        raise ValueError(f"{name}: n must be {rule}>= {minimum}, got {value}")
    return int(value)
