"""lbfgs: limited-memory BFGS with a line search (JSOSolvers.jl's ``lbfgs``; Liu and Nocedal 1989;
Nocedal and Wright, Numerical Optimization, Algorithm 7.5).

Each iteration: d = -H g with H the inverse L-BFGS matrix of the last ``mem`` pairs (two-loop
recursion of ``nlpmodels.InverseLBFGSOperator``, scaled by s'y / y'y of the newest pair); a line search for
t along d (:mod:`solvers.line_search`: Armijo-Wolfe as JSOSolvers.jl by default, strong Wolfe on
request); then x ← x + t d and the pair (t d, ∇f(x + t d) - ∇f(x)) is offered to the memory, whose
skip rule keeps it only with safely positive curvature. Both gradients of a pair come from the same
minibatch; a pair spanning a batch change is never formed.

If the line search fails along a quasi-Newton direction, the memory is cleared and the next
iteration starts again along -g; a failure along -g ends the run (``small_step``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy
from minidnn.nlpmodels import InverseLBFGSOperator
from minidnn.solvers import checks
from minidnn.solvers.batches import Batches
from minidnn.solvers.driver import run
from minidnn.solvers.line_search import Line, LineSearchResult, armijo_wolfe, strong_wolfe
from minidnn.solvers.solver import Solver
from minidnn.solvers.stats import ExecutionStats
from minidnn.solvers.stopping import Budget

LINE_SEARCHES = ("armijo_wolfe", "strong_wolfe")


class LBFGS(Solver):
    name = "lbfgs"
    step_label = "step"
    extra_columns = (("bk", 3, "d"), ("mem", 3, "d"))

    def __init__(
        self,
        nlp: Any,
        x: Any,
        batches: Batches,
        budget: Budget,
        *,
        mem: int,
        scaling: bool,
        line_search: str,
        tau1: float,
        bk_max: int,
    ):
        super().__init__(nlp, x, batches, budget)
        meta = nlp.meta
        self.memory = InverseLBFGSOperator(
            meta.nvar,
            mem=checks.positive_int(self.name, "mem", mem),
            scaling=bool(scaling),
            dtype=meta.dtype,
            backend=meta.backend,
        )
        self.line_search = checks.choice(self.name, "line_search", line_search, LINE_SEARCHES)
        eps = float(numpy.finfo(nlp.meta.dtype).eps)
        self.tau0 = max(1e-4, math.sqrt(eps))  # JSOSolvers.jl lbfgs: Armijo τ₀ = max(1e-4, √eps)
        self.tau1 = checks.in_range(self.name, "tau1", tau1, self.tau0, 1.0, low_open=True)
        self.bk_max = checks.positive_int(self.name, "bk_max", bk_max)

    def iterate(self) -> str | None:
        x, g, version = self.x, self.g, self.batch_version
        d = -self.memory.matvec(g)
        slope = self.dot(g, d)
        if not slope < 0:
            return self.restart("not_desc")
        result = self.search(Line(self.nlp, x, d), slope)
        self.extra = {"bk": result.backtracks, "mem": self.memory.npairs}
        if not result.success:
            return self.restart("small_step")
        p = result.point
        trial = x + p.t * d
        if self.rounds_to_same(x, trial):
            return self.restart("small_step")
        g_trial = p.g if p.g is not None else self.nlp.grad(trial)
        grad_norm = self.checked_grad_norm(p.f, g_trial)
        if self.same_batch(version):  # a pair that overflowed is skipped like a rejected one
            self.memory.push(p.t * d, g_trial - g, skip_nonfinite=True)
        self.x, self.f, self.g, self.grad_norm = trial, p.f, g_trial, grad_norm
        self.step = p.t
        return None

    def search(self, line: Line, slope: float) -> LineSearchResult:
        if self.line_search == "strong_wolfe":
            return strong_wolfe(line, self.f, slope)
        return armijo_wolfe(
            line, self.f, slope, tau0=self.tau0, tau1=self.tau1, bk_max=self.bk_max, dtype=self.nlp.meta.dtype
        )

    def restart(self, status: str) -> str | None:
        """Clears the memory and retries along -g, or ends with ``status`` when it was already -g."""
        self.step = 0.0
        if self.memory.npairs == 0:
            return status
        self.memory.reset()
        return None


def lbfgs(
    nlp: Any,
    x0: Any = None,
    *,
    mem: int = 5,  # JSOSolvers.jl lbfgs: mem = 5
    scaling: bool = True,  # JSOSolvers.jl lbfgs: InverseLBFGSOperator(scaling = true)
    line_search: str = "armijo_wolfe",
    tau1: float = 0.9999,  # JSOSolvers.jl lbfgs: τ₁ = 0.9999
    bk_max: int = 25,  # JSOSolvers.jl lbfgs: bk_max = 25
    **options: Any,
) -> ExecutionStats:
    """Minimises ``nlp`` by L-BFGS with a line search (see the module docstring).

    mem: pairs kept (5), scaling: H0 = (s'y / y'y) I (True), line_search: "armijo_wolfe" (JSOSolvers.jl)
    or "strong_wolfe" (c1 = 1e-4, c2 = 0.9), tau1: loose Wolfe factor of armijo_wolfe (0.9999),
    bk_max: its backtracks (25); defaults are JSOSolvers.jl's. See :mod:`solvers.options` for ``options``.
    """
    params = {"mem": mem, "scaling": scaling, "line_search": line_search, "tau1": tau1, "bk_max": bk_max}
    return run(LBFGS, nlp, x0, params, options)
