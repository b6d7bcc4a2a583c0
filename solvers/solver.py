"""The base of every solver: the state a callback sees, and the evaluation of f and ∇f.

A solver object holds the current iterate ``x``, ``f`` = f(x), ``g`` = ∇f(x) and ``grad_norm``, and
``batch_version``, the version of the data they were computed on. The driver (:mod:`solvers.driver`)
calls ``start()`` once, then ``iterate()`` until a stopping rule fires; before each iteration it calls
``refresh()`` when the model moved to another minibatch, so that a ratio test, a line search or a
quasi-Newton pair never mixes values from two batches.

``iterate()`` replaces ``x`` only once f and ∇f at the new point are known to be finite: after a
:class:`NonFinite` error, ``x`` is the last finite iterate.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from minidnn.solvers import vectors
from minidnn.solvers.batches import Batches
from minidnn.solvers.logging import Column
from minidnn.solvers.stopping import Budget


class NonFinite(ArithmeticError):
    """f or ∇f is not finite at a point the solver needs; ``status`` is the run's final status."""

    def __init__(self, message: str, status: str = "exception"):
        super().__init__(message)
        self.status = status


class Solver:
    """State and evaluations shared by all solvers (subclasses implement ``iterate``)."""

    name: ClassVar[str] = "solver"
    step_label: ClassVar[str] = "step"
    stochastic: ClassVar[bool] = False
    extra_columns: ClassVar[tuple[Column, ...]] = ()

    def __init__(self, nlp: Any, x: Any, batches: Batches, budget: Budget):
        self.nlp = nlp
        self.budget = budget
        self.backend = nlp.meta.backend
        self.xp = self.backend.xp
        self.batches = batches
        self.x = x
        self.f = math.nan
        self.g: Any = None
        self.grad_norm = math.nan
        self.batch_version = batches.version
        self.step: float | None = None
        self.ratio: float | None = None
        self.extra: dict[str, Any] = {}
        self.solver_specific: dict[str, Any] = {}

    # -- driver interface -----------------------------------------------------------------------
    def start(self) -> None:
        """Evaluates f and ∇f at the starting point."""
        self.refresh()

    def refresh(self) -> None:
        """Re-evaluates f(x) and ∇f(x) on the model's current data."""
        self.f, self.g, self.grad_norm = self.evaluate(self.x)

    def iterate(self) -> str | None:
        """One iteration; returns a final status when the method itself must stop, else ``None``."""
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------------------------
    def evaluate(self, x: Any) -> tuple[float, Any, float]:
        """(f(x), ∇f(x), ‖∇f(x)‖) from one ``objgrad``; :class:`NonFinite` unless all are finite."""
        self.batch_version = self.batches.version
        f, g = self.nlp.objgrad(x)
        return f, g, self.checked_grad_norm(f, g)

    def checked_grad_norm(self, f: float, g: Any) -> float:
        """‖g‖, after checking that f and ‖g‖ are finite."""
        if f == -math.inf:
            raise NonFinite("the objective is -inf: unbounded below", status="unbounded")
        if not math.isfinite(f):
            raise NonFinite(f"the objective is {f} at a new iterate")
        grad_norm = self.norm(g)
        if not math.isfinite(grad_norm):
            raise NonFinite(f"the gradient norm is {grad_norm} at a new iterate")
        return grad_norm

    def dot(self, a: Any, b: Any) -> float:
        return vectors.dot(self.backend, a, b)

    def norm(self, a: Any) -> float:
        return vectors.norm(self.backend, a)

    def rounds_to_same(self, x: Any, point: Any) -> bool:
        """True when ``point`` (x plus a step) equals x in every component: the step is lost to rounding."""
        return self.backend.to_float(self.xp.all(point == x)) != 0.0

    def same_batch(self, version: int) -> bool:
        """True when the model's data is still that of ``version``."""
        return self.batches.version == version
