"""trunk: a trust-region Newton-CG method (JSOSolvers.jl's ``trunk``; Conn, Gould and Toint,
Trust-Region Methods, SIAM 2000, chapter 6, with the backtracking of section 10.3.2).

Each iteration:

1. s ≈ argmin gᵀs + ½ sᵀHs over ‖s‖ ≤ Δ by Steihaug-Toint truncated CG (:mod:`solvers.steihaug`)
   to the relative tolerance η_k = max(rtol, min(0.1, sqrt(‖g‖), 0.9 η_{k-1})), η_{-1} = 1 (a
   forcing sequence that gives superlinear convergence), with at most max(2n, 50) inner iterations.
2. ρ = ared / pred (:mod:`solvers.trust_region`). When ρ < 1e-4 and s is a descent direction,
   backtrack along s: α ← α / 1.2 until f(x + αs) ≤ f(x) + eps^(1/4) α gᵀs (at most 10 times), then
   recompute ρ with the model scaled to αs.
3. Accept when ρ ≥ 1e-4; update Δ by the rules of :class:`~solvers.trust_region.TrustRegion`.

All constants are JSOSolvers.jl trunk's. H is ``nlp.hprod``: the exact Hessian for a model that has
one (a network), or a quasi-Newton operator for an ``LBFGSModel``/``LSR1Model``, offered the pair
(s, ∇f(x + s) - ∇f(x)) on the steps the model's ``learns_from`` names (every trial step, or the
accepted ones), both gradients from the same minibatch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from minidnn.solvers.adaptive_sampling import SamplingParameters
from minidnn.solvers.core import Batches, Budget, Solver, StateError, checked_scalar
from minidnn.solvers.driver import solver_function
from minidnn.solvers.parameters import Derived, Integer, declared, machine_eps, parameter
from minidnn.solvers.steihaug import CGResult, truncated_cg
from minidnn.solvers.trust_region import Reductions, TrustRegion, initial_radius, reductions


@declared
class TrunkParameters(SamplingParameters):
    """trunk's parameters (JSOSolvers.jl's defaults)."""

    cg_max_iter: int | None = parameter(
        Derived("max(2n, 50)", lambda meta: max(2 * meta.nvar, 50)),
        "inner CG iteration cap",
        Integer(1),
        source="JSOSolvers.jl trunk: CG itmax = max(2n, 50)",
    )
    bk_max: int = parameter(
        10,
        "backtracks after a rejected step (0: none)",
        Integer(0),
        source="JSOSolvers.jl trunk: bk_max = 10",
    )


@dataclass
class _Step:
    """A step s with ‖s‖, the slope gᵀs and the model change m(s) - m(0) = gᵀs + ½ sᵀHs."""

    s: Any
    norm: float
    slope: float
    model_change: float

    def scaled(self, alpha: float) -> _Step:
        curvature = 2.0 * (self.model_change - self.slope)  # sᵀHs
        slope = alpha * self.slope
        return _Step(alpha * self.s, alpha * self.norm, slope, slope + 0.5 * alpha * alpha * curvature)


class _Trial:
    """The point x + s with f there, and ∇f there once computed."""

    def __init__(self, nlp: Any, point: Any, step: _Step, f: float, g: Any = None):
        self.nlp, self.point, self.step, self.f, self._g = nlp, point, step, f, g

    def gradient(self) -> Any:
        if self._g is None:
            self._g = self.nlp.grad(self.point)
        return self._g


class Trunk(Solver):
    """Minimises ``nlp`` by a trust-region Newton-CG method (see :mod:`minidnn.solvers.trunk`);
    ``nlp`` needs ``hprod``: exact, or a quasi-Newton model (nlpmodels.LSR1Model / LBFGSModel)."""

    name = "trunk"
    parameters = TrunkParameters
    step_label = "radius"
    extra_columns = (("inner", 6, "d"), ("bk", 3, "d"), ("cg_exit", 24, ""))

    def __init__(self, nlp: Any, x: Any, batches: Batches, budget: Budget, params: TrunkParameters):
        super().__init__(nlp, x, batches, budget, params)
        if not nlp.has_hprod:
            raise ValueError(
                f"{self.name}: {nlp.meta.name} has no Hessian-vector product; wrap it in "
                "nlpmodels.LSR1Model(nlp) or nlpmodels.LBFGSModel(nlp), or call solvers.lsr1(nlp)"
            )
        self.armijo = machine_eps(nlp.meta.dtype) ** 0.25  # JSOSolvers.jl trunk: β = eps^(1/4)
        self.cg_tol = 1.0  # JSOSolvers.jl trunk: cgtol starts at 1
        # A quasi-Newton model says which steps it learns from (nlpmodels.QuasiNewtonModel.learns_from):
        # "every_trial" (SR1) or "accepted_steps" (BFGS); None: an exact Hessian, which learns nothing.
        self.learns_from = getattr(nlp, "learns_from", None)
        self.region: TrustRegion | None = None

    def start(self) -> None:
        super().start()
        self.region = TrustRegion(initial_radius(self.grad_norm), self.nlp.meta.dtype)
        self.step = self.region.radius

    def state(self) -> dict[str, Any]:
        """The forcing term η_{k-1}, the radius Δ, and the quasi-Newton model's pairs (if any)."""
        operator = self.nlp.operator.state() if self.learns_from is not None else None
        return {"cg_tol": self.cg_tol, "radius": self.region.radius, "operator": operator}

    def restore(self, state: Mapping[str, Any]) -> None:
        cg_tol = checked_scalar(self.name, state, "cg_tol", 0.0)
        radius = checked_scalar(self.name, state, "radius", 0.0)
        if not radius > 0:
            raise StateError(f"{self.name}: the state's 'radius' must be > 0, got {radius!r}")
        operator = state.get("operator")
        if (operator is None) != (self.learns_from is None) or not isinstance(operator, Mapping | None):
            raise ValueError(
                f"{self.name}: the state's 'operator' does not fit the model {self.nlp.meta.name}"
            )
        if operator is not None:
            try:
                self.nlp.operator.restore(operator)
            except ValueError as err:
                raise StateError(f"{self.name}: {err}") from None
        self.cg_tol, self.region.radius, self.step = cg_tol, radius, radius

    def iterate(self) -> str | None:
        region, x, version = self.region, self.x, self.batch_version
        cg = self.inner_solve()
        step = _Step(cg.step, self.norm(cg.step), self.dot(self.g, cg.step), cg.model_decrease)
        point = x + step.s
        if self.rounds_to_same(x, point):
            return self.restart()
        trial = _Trial(self.nlp, point, step, *self.nlp.objgrad(point))
        if self.learns_from == "every_trial" and self.same_batch(version):
            self.nlp.update(step.s, trial.gradient() - self.g)
        red = self.reductions(trial)
        backtracks = 0
        if red.pred < 0 and not region.acceptable(red.ratio):
            if step.slope >= 0:
                return "not_desc"
            trial, backtracks = self.backtrack(trial)
            red = self.reductions(trial)
        if red.pred >= 0:
            return "neg_pred"
        self.ratio = red.ratio
        self.extra = {"inner": cg.iterations, "bk": backtracks, "cg_exit": cg.exit}
        if region.acceptable(red.ratio):
            self.accept(trial, version)
        elif self.rounds_to_same(x, trial.point):
            return self.restart()
        region.update(red.ratio, trial.step.norm)
        self.step = region.radius
        return None

    def inner_solve(self) -> CGResult:
        """Steihaug-Toint CG with JSOSolvers.jl trunk's forcing sequence as relative tolerance."""
        self.cg_tol = max(self.budget.rtol, min(0.1, math.sqrt(self.grad_norm), 0.9 * self.cg_tol))
        x = self.x
        return truncated_cg(
            self.backend,
            lambda v: self.nlp.hprod(x, v),
            self.g,
            self.grad_norm,
            self.region.radius,
            atol=self.budget.atol,
            rtol=self.cg_tol,
            max_iter=self.params.cg_max_iter,
        )

    def reductions(self, trial: _Trial) -> Reductions:
        step = trial.step
        return reductions(
            self.f,
            trial.f,
            step.model_change,
            step.slope,
            lambda: self.dot(trial.gradient(), step.s),
            self.region.eps,
        )

    def backtrack(self, trial: _Trial) -> tuple[_Trial, int]:
        """Along s: α = 1.2^-k for the first k ≤ bk_max with f(x + αs) ≤ f(x) + β α gᵀs (Armijo)."""
        full, alpha, k = trial.step, 1.0, 0
        while k < self.params.bk_max and not trial.f <= self.f + self.armijo * alpha * full.slope:
            k += 1
            alpha /= 1.2  # JSOSolvers.jl trunk: α /= 1.2
            step = full.scaled(alpha)
            point = self.x + step.s
            trial = _Trial(self.nlp, point, step, self.nlp.obj(point))
        return trial, k

    def accept(self, trial: _Trial, version: int) -> None:
        g_trial = trial.gradient()
        grad_norm = self.checked_grad_norm(trial.f, g_trial)
        if self.learns_from == "accepted_steps" and self.same_batch(version):
            self.nlp.update(trial.step.s, g_trial - self.g)
        self.x, self.f, self.g, self.grad_norm = trial.point, trial.f, g_trial, grad_norm

    def restart(self) -> str | None:
        """The step was lost to rounding: a quasi-Newton model forgets its pairs and the radius
        starts afresh (its scaling can make every step vanish on a badly scaled problem); with the
        exact Hessian, or an empty memory, the run ends with ``small_step``."""
        if self.learns_from is None or self.nlp.npairs == 0:
            return "small_step"
        self.nlp.reset()
        self.region.radius = initial_radius(self.grad_norm)
        self.step = self.region.radius
        return None


trunk = solver_function(Trunk)
