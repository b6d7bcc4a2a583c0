"""Checks of solver parameters: each returns the value as a Python scalar or raises a ValueError
that names the solver and the parameter."""

from __future__ import annotations

import math
import numbers
from typing import Any


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def positive(solver: str, name: str, value: Any) -> float:
    """A finite number > 0."""
    if not _real(value) or value <= 0:
        raise ValueError(f"{solver}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


def in_range(solver: str, name: str, value: Any, low: float, high: float, *, low_open: bool = False) -> float:
    """A number in [low, high) (or (low, high) when ``low_open``)."""
    ok = _real(value) and (value > low if low_open else value >= low) and value < high
    if not ok:
        left = "(" if low_open else "["
        raise ValueError(f"{solver}: {name} must lie in {left}{low}, {high}), got {value!r}")
    return float(value)


def positive_int(solver: str, name: str, value: Any) -> int:
    """An integer >= 1."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{solver}: {name} must be an integer >= 1, got {value!r}")
    return int(value)


def nonnegative_int(solver: str, name: str, value: Any) -> int:
    """An integer >= 0."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{solver}: {name} must be an integer >= 0, got {value!r}")
    return int(value)


def optional_positive(solver: str, name: str, value: Any) -> float | None:
    """``None`` or a finite number > 0."""
    return None if value is None else positive(solver, name, value)


def choice(solver: str, name: str, value: Any, choices: tuple[Any, ...]) -> Any:
    """One of ``choices``."""
    if value not in choices:
        raise ValueError(f"{solver}: {name} must be one of {choices}, got {value!r}")
    return value
