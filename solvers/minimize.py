"""``minimize(nlp, method, **options)``: every solver by name, and the two families."""

from __future__ import annotations

from typing import Any

from minidnn.solvers.adagrad import Adagrad
from minidnn.solvers.adam import Adam
from minidnn.solvers.core import Solver
from minidnn.solvers.driver import run
from minidnn.solvers.hessian_free import HessianFree
from minidnn.solvers.lbfgs import LBFGS
from minidnn.solvers.lsr1 import LSR1
from minidnn.solvers.momentum import Momentum
from minidnn.solvers.multibatch_lbfgs import MultiBatchLBFGS
from minidnn.solvers.nesterov import Nesterov
from minidnn.solvers.r2 import R2
from minidnn.solvers.rmsprop import RMSprop
from minidnn.solvers.sgd import SGD
from minidnn.solvers.stats import ExecutionStats
from minidnn.solvers.trunk import Trunk

METHODS: dict[str, type[Solver]] = {
    cls.name: cls
    for cls in (
        *(SGD, Momentum, Nesterov, Adagrad, RMSprop, Adam, MultiBatchLBFGS),
        *(R2, LBFGS, Trunk, LSR1, HessianFree),
    )
}
"""Solver classes by name (each with its ``family`` and ``parameters`` record): the stochastic
family first, then the deterministic one."""

STOCHASTIC = tuple(name for name, cls in METHODS.items() if cls.family == "stochastic")
DETERMINISTIC = tuple(name for name, cls in METHODS.items() if cls.family == "deterministic")


def minimize(nlp: Any, method: str = "lbfgs", x0: Any = None, **options: Any) -> ExecutionStats:
    """Runs the solver called ``method`` on ``nlp`` (a ValueError lists the valid names); ``options``
    are the solver's parameters and the common options of :class:`~minidnn.solvers.core.Budget`."""
    solver = METHODS.get(method) if isinstance(method, str) else None
    if solver is None:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    return run(solver, nlp, x0, options)
