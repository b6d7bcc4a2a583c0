"""lbfgs: limited-memory BFGS with a line search (JSOSolvers.jl's ``lbfgs``; Liu and Nocedal 1989;
Nocedal and Wright, Numerical Optimization, Algorithm 7.5).

Each iteration: d = -H g with H the inverse L-BFGS matrix of the last ``mem`` pairs (two-loop
recursion of ``nlpmodels.InverseLBFGSOperator``, scaled by s'y / y'y of the newest pair); a line search for
t along d (:mod:`solvers.line_search`: Armijo-Wolfe as JSOSolvers.jl by default, strong Wolfe on
request); then x ← x + t d and the pair (t d, ∇f(x + t d) - ∇f(x)) is offered to the memory, whose
skip rule keeps it only with safely positive curvature. Both gradients of a pair come from the same
minibatch; a pair spanning a batch change is never formed.

If the line search fails along a quasi-Newton direction, the memory is cleared and the next
iteration starts again along -g; a failure along -g ends the run (``small_step``). A search whose
last, shortest trial still has a non-finite objective ends the run with status ``exception`` (the
objective turned NaN or +inf near x, as r2, trunk and lsr1 report it), the last finite iterate as
solution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from minidnn.nlpmodels import InverseLBFGSOperator
from minidnn.solvers.adaptive_sampling import SamplingParameters
from minidnn.solvers.core import Batches, Budget, NonFinite, Solver, StateError
from minidnn.solvers.driver import solver_function
from minidnn.solvers.line_search import Line, LineSearchResult, armijo_wolfe, strong_wolfe
from minidnn.solvers.parameters import (
    Boolean,
    Derived,
    Integer,
    Number,
    OneOf,
    declared,
    machine_eps,
    parameter,
)


@declared
class LBFGSParameters(SamplingParameters):
    """L-BFGS's parameters (JSOSolvers.jl's defaults; the line search's are SolverTools.jl's)."""

    mem: int = parameter(5, "pairs kept", Integer(1), source="JSOSolvers.jl lbfgs: mem = 5")
    scaling: bool = parameter(
        True,
        "H0 = (sᵀy / yᵀy) I from the newest pair",
        Boolean(),
        source="JSOSolvers.jl lbfgs: scaling = true",
    )
    line_search: str = parameter(
        "armijo_wolfe",
        "armijo_wolfe (JSOSolvers.jl's) or strong_wolfe (Nocedal and Wright's, see solvers.line_search)",
        OneOf(("armijo_wolfe", "strong_wolfe")),
        source="JSOSolvers.jl lbfgs",
    )
    tau0: float | None = parameter(
        Derived(
            "max(1e-4, sqrt(eps)) of the model's dtype",
            lambda meta: max(1e-4, math.sqrt(machine_eps(meta.dtype))),
        ),
        "Armijo's slope factor of armijo_wolfe",
        Number(0.0, 1.0, low_open=True, high_open=True),
        source="SolverTools.jl armijo_wolfe: τ₀ = max(1e-4, √eps)",
    )
    tau1: float = parameter(
        0.9999,
        "loose Wolfe factor of armijo_wolfe",
        Number("tau0", 1.0, low_open=True, high_open=True),
        source="JSOSolvers.jl lbfgs: τ₁ = 0.9999",
    )
    bk_max: int = parameter(
        25, "backtracks of armijo_wolfe", Integer(1), source="JSOSolvers.jl lbfgs: bk_max = 25"
    )


class LBFGS(Solver):
    """Minimises ``nlp`` by L-BFGS with a line search (see :mod:`minidnn.solvers.lbfgs`)."""

    name = "lbfgs"
    parameters = LBFGSParameters
    step_label = "step"
    extra_columns = (("bk", 3, "d"), ("mem", 3, "d"))

    def __init__(self, nlp: Any, x: Any, batches: Batches, budget: Budget, params: LBFGSParameters):
        super().__init__(nlp, x, batches, budget, params)
        meta = nlp.meta
        self.memory = InverseLBFGSOperator(
            meta.nvar, mem=params.mem, scaling=params.scaling, dtype=meta.dtype, backend=meta.backend
        )

    def state(self) -> dict[str, Any]:
        """The pairs of the inverse L-BFGS memory (the line search keeps nothing between iterations)."""
        return {"memory": self.memory.state()}

    def restore(self, state: Mapping[str, Any]) -> None:
        memory = state.get("memory")
        if not isinstance(memory, Mapping):
            raise StateError(f"{self.name}: the state has no 'memory' mapping")
        try:
            self.memory.restore(memory)
        except ValueError as err:
            raise StateError(f"{self.name}: {err}") from None

    def iterate(self) -> str | None:
        x, g, version = self.x, self.g, self.batch_version
        d = -self.memory.matvec(g)
        slope = self.dot(g, d)
        if not slope < 0:
            return self.restart("not_desc")
        result = self.search(Line(self.nlp, x, d), slope)
        self.extra = {"bk": result.backtracks, "mem": self.memory.npairs}
        if not result.success:
            if result.point.f == math.inf:  # NaN and +inf are read as +inf (solvers.line_search)
                raise NonFinite(
                    f"the objective is not finite at x + t d even for t = {result.point.t:.3g}, "
                    "the last trial of the line search"
                )
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
        p = self.params
        if p.line_search == "strong_wolfe":
            return strong_wolfe(line, self.f, slope)
        return armijo_wolfe(
            line, self.f, slope, tau0=p.tau0, tau1=p.tau1, bk_max=p.bk_max, dtype=self.nlp.meta.dtype
        )

    def restart(self, status: str) -> str | None:
        """Clears the memory and retries along -g, or ends with ``status`` when it was already -g."""
        self.step = 0.0
        if self.memory.npairs == 0:
            return status
        self.memory.reset()
        return None


lbfgs = solver_function(LBFGS)
