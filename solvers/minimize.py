"""``minimize(nlp, method, **options)``: every solver by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minidnn.solvers.adagrad import adagrad
from minidnn.solvers.adam import adam
from minidnn.solvers.lbfgs import lbfgs
from minidnn.solvers.lsr1 import lsr1
from minidnn.solvers.momentum import momentum
from minidnn.solvers.nesterov import nesterov
from minidnn.solvers.r2 import r2
from minidnn.solvers.rmsprop import rmsprop
from minidnn.solvers.sgd import sgd
from minidnn.solvers.stats import ExecutionStats
from minidnn.solvers.trunk import trunk

METHODS: dict[str, Callable[..., ExecutionStats]] = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
    "r2": r2,
    "lbfgs": lbfgs,
    "trunk": trunk,
    "lsr1": lsr1,
}
"""Solver functions by name: the stochastic family first, then the deterministic one."""

STOCHASTIC = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
DETERMINISTIC = ("r2", "lbfgs", "trunk", "lsr1")


def minimize(nlp: Any, method: str = "lbfgs", x0: Any = None, **options: Any) -> ExecutionStats:
    """Runs the solver called ``method`` on ``nlp`` (a ValueError lists the valid names)."""
    solver = METHODS.get(method) if isinstance(method, str) else None
    if solver is None:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    return solver(nlp, x0, **options)
