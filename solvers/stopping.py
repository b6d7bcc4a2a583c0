"""Stopping rules shared by every solver: the first-order test and the budgets.

First-order test (JSOSolvers.jl): stop when ‖∇f(x_k)‖ ≤ atol + rtol ‖∇f(x_0)‖, with
atol = rtol = sqrt(eps) of the model's dtype by default. Budgets: objective evaluations
(``max_eval``, -1 for none), iterations, seconds (``max_time``, 30 s by default as in JSOSolvers.jl)
and epochs of a minibatch model. The order of the checks follows SolverCore.jl's ``get_status``:
optimality first, then the budgets.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy


@dataclass(frozen=True)
class Budget:
    """Validated tolerances and budgets of one run (``None`` means no limit)."""

    atol: float
    rtol: float
    max_eval: int
    max_iter: int | None
    max_time: float | None
    max_epochs: int | None

    @classmethod
    def from_options(
        cls,
        dtype: str,
        *,
        atol: float | None,
        rtol: float | None,
        max_eval: int,
        max_iter: int | None,
        max_time: float | None,
        max_epochs: int | None,
    ) -> Budget:
        """Checks every value; ``atol``/``rtol`` of ``None`` become sqrt(eps) of ``dtype``."""
        root_eps = math.sqrt(float(numpy.finfo(dtype).eps))  # JSOSolvers.jl: atol = rtol = √eps(T)
        return cls(
            atol=_tolerance("atol", root_eps if atol is None else atol),
            rtol=_tolerance("rtol", root_eps if rtol is None else rtol),
            max_eval=_max_eval(max_eval),
            max_iter=_positive_int("max_iter", max_iter),
            max_time=_positive_float("max_time", max_time),
            max_epochs=_positive_int("max_epochs", max_epochs),
        )

    def tolerance(self, grad_norm0: float) -> float:
        """atol + rtol ‖∇f(x_0)‖."""
        return self.atol + self.rtol * grad_norm0

    def status(
        self, *, grad_norm: float, tol: float, iters: int, evals: int, elapsed: float, epochs: int | None
    ) -> str | None:
        """The status that ends the run now, or ``None`` to go on."""
        if grad_norm <= tol:
            return "first_order"
        if self.max_eval >= 0 and evals >= self.max_eval:
            return "max_eval"
        if self.max_time is not None and elapsed > self.max_time:
            return "max_time"
        if self.max_iter is not None and iters >= self.max_iter:
            return "max_iter"
        if self.max_epochs is not None and epochs is not None and epochs >= self.max_epochs:
            return "max_epochs"
        return None


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _tolerance(name: str, value: object) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 <= value < math.inf:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _max_eval(value: object) -> int:
    if not _is_int(value) or not (value == -1 or value > 0):
        raise ValueError(f"max_eval must be -1 (no limit) or a positive integer, got {value!r}")
    return int(value)


def _positive_int(name: str, value: object) -> int | None:
    if value is None:
        return None
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    return int(value)


def _positive_float(name: str, value: object) -> float | None:
    if value is None:
        return None
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds or None, got {value!r}")
    return float(value)
