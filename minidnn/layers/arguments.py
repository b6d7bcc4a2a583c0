"""Checks of the layers' constructor arguments.

Each check returns the value in its canonical Python type or raises a ValueError that names the
layer, the argument, the rule and what was given (value and type), before the layer keeps anything.
Integers may be Python or NumPy integers; ``bool`` is never taken for a number, nor a number for a
``bool``; strings are never parsed ("0.5" is refused, not read as 0.5).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy


def positive_int(layer: str, name: str, value: Any) -> int:
    """``value`` as an int >= 1."""
    if not _is_int(value) or value < 1:
        raise ValueError(_fault(layer, name, "be a positive integer", value))
    return int(value)


def int_pair(layer: str, name: str, value: Any, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints as a pair of ints, each at least ``minimum``."""
    rule = f"be an int >= {minimum} or a pair of them"
    if _is_int(value):
        items: tuple[Any, ...] = (value, value)
    elif isinstance(value, tuple | list):
        items = tuple(value)
    else:
        raise ValueError(_fault(layer, name, rule, value))
    if len(items) != 2 or not all(_is_int(v) and v >= minimum for v in items):
        raise ValueError(_fault(layer, name, rule, value))
    return (int(items[0]), int(items[1]))


def probability(layer: str, name: str, value: Any) -> float:
    """``value`` as a float in [0, 1)."""
    if not _is_real(value) or not 0.0 <= value < 1.0:
        raise ValueError(_fault(layer, name, "lie in [0, 1)", value))
    return float(value)


def positive_float(layer: str, name: str, value: Any) -> float:
    """``value`` as a finite float > 0."""
    if not _is_real(value) or not (math.isfinite(value) and value > 0):
        raise ValueError(_fault(layer, name, "be a finite number > 0", value))
    return float(value)


def boolean(layer: str, name: str, value: Any) -> bool:
    """``value`` when it is a bool (``True`` or ``False``, NumPy's included)."""
    if not _is_bool(value):
        raise ValueError(_fault(layer, name, "be True or False", value))
    return bool(value)


def initializer(layer: str, name: str, value: Any) -> str | Callable[..., Any]:
    """``value`` when it is an initializer's name or a callable (names are checked when drawn)."""
    if not (isinstance(value, str) or callable(value)):
        raise ValueError(_fault(layer, name, "be an initializer name or a callable", value))
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not _is_bool(value)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not _is_bool(value)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | numpy.bool_)


def _fault(layer: str, name: str, rule: str, value: Any) -> str:
    return f"{layer}: {name} must {rule}, got {value!r} ({type(value).__name__})"
