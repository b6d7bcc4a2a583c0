"""R2: first-order quadratic regularisation (Birgin, Gardenghi, Martínez, Santos and Toint 2017,
Math. Program. 163; JSOSolvers.jl's ``R2``).

At x_k with regularisation σ_k the step minimises the model gᵀs + (σ_k/2)‖s‖², s = -d/σ_k with
d = g; it predicts the decrease gᵀd/σ_k. With ρ = (f(x_k) - f(x_k + s)) / (gᵀd/σ_k), guarded
against rounding as in :func:`solvers.trust_region.reductions` (an addition to JSOSolvers.jl's R2,
whose ratio is noise once the decrease nears the rounding of f):

    ρ ≥ η₂   accept,  σ ← max(σ_min, γ₁ σ)       (η₂ = 0.95, γ₁ = 1/2)
    ρ ≥ η₁   accept,  σ unchanged                (η₁ = eps^(1/4))
    ρ < η₁   reject,  σ ← γ₂ σ                   (γ₂ = 2)

σ₀ = 2^round(log₂(‖g₀‖ + 1)) and σ_min = eps (JSOSolvers.jl's fomo: αmax = 1/eps).

Momentum (``beta`` > 0) follows JSOSolvers.jl's fomo: d = (1 - β_k) g + β_k m, with m the average
(1 - β) g + β m updated at accepted steps and β_k ≤ β the largest value that keeps d
gradient-related: gᵀd ≥ θ₁‖g‖² and ‖g‖ ≥ θ₂‖d‖ (θ₁ = 0.1, θ₂ = eps^(1/3)); β_k is halved at a
rejected step (γ₃ = 1/2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from minidnn.solvers.adaptive_sampling import SamplingParameters
from minidnn.solvers.core import Batches, Budget, Solver, StateError
from minidnn.solvers.driver import solver_function
from minidnn.solvers.parameters import FRACTION, Derived, Number, declared, machine_eps, parameter
from minidnn.solvers.trust_region import reductions


@declared
class R2Parameters(SamplingParameters):
    """R2's parameters (JSOSolvers.jl's defaults)."""

    eta1: float | None = parameter(
        Derived("eps^(1/4) of the model's dtype", lambda meta: machine_eps(meta.dtype) ** 0.25),
        "acceptance threshold of ρ",
        Number(0.0, 1.0, low_open=True, high_open=True),
        source="JSOSolvers.jl R2: η₁ = eps^(1/4)",
    )
    eta2: float = parameter(
        0.95,
        "threshold of ρ for a very successful step",
        Number("eta1", 1.0, low_open=True, high_open=True),
        source="JSOSolvers.jl R2: η₂ = 0.95",
    )
    gamma1: float = parameter(
        0.5,
        "factor of σ after a very successful step",
        Number(0.0, 1.0, low_open=True, high_open=True),
        source="JSOSolvers.jl R2: γ₁ = 1/2",
    )
    gamma2: float = parameter(
        2.0,
        "factor of σ after a failed step",
        Number(1.0, low_open=True),
        source="JSOSolvers.jl R2: γ₂ = 1/γ₁ = 2",
    )
    beta: float = parameter(
        0.0, "momentum (0: none)", FRACTION, source="JSOSolvers.jl R2: β = 0, no momentum"
    )


class R2(Solver):
    """Minimises ``nlp`` by R2 quadratic regularisation (see :mod:`minidnn.solvers.r2`)."""

    name = "r2"
    parameters = R2Parameters
    step_label = "sigma"
    state_arrays = ("memory",)
    state_scalars = ("sigma", "beta_k")

    def __init__(self, nlp: Any, x: Any, batches: Batches, budget: Budget, params: R2Parameters):
        super().__init__(nlp, x, batches, budget, params)
        eps = self.eps = machine_eps(nlp.meta.dtype)
        self.sigma_min = eps  # JSOSolvers.jl fomo: αmax = 1/eps(T), i.e. σ ≥ eps
        self.theta1 = 0.1  # JSOSolvers.jl fomo: θ₁ = 0.1
        self.theta2 = eps ** (1.0 / 3.0)  # JSOSolvers.jl fomo: θ₂ = eps(T)^(1/3)
        self.sigma = math.nan
        self.memory = self.xp.zeros_like(x) if params.beta > 0 else None
        self.beta_k = 0.0
        self.direction: Any = None
        self.decrease_rate = math.nan  # gᵀd

    def start(self) -> None:
        super().start()
        self.sigma = 2.0 ** round(math.log2(self.grad_norm + 1.0))  # JSOSolvers.jl R2: σ₀
        self.step = self.sigma

    def restore(self, state: Mapping[str, Any]) -> None:
        """σ, β_k and the momentum average m back; d follows from them."""
        super().restore(state)
        if not self.sigma > 0:
            raise StateError(f"{self.name}: the state's 'sigma' must be > 0, got {self.sigma!r}")
        self.step = self.sigma
        self.choose_direction()

    def refresh(self) -> None:
        super().refresh()
        self.choose_direction()

    def choose_direction(self) -> None:
        """d = (1 - β_k) g + β_k m and gᵀd (d = g without momentum)."""
        if self.memory is None or self.beta_k == 0.0:
            self.direction, self.decrease_rate = self.g, self.grad_norm**2
            return
        b = self.beta_k
        self.direction = (1.0 - b) * self.g + b * self.memory
        self.decrease_rate = (1.0 - b) * self.grad_norm**2 + b * self.dot(self.g, self.memory)

    def iterate(self) -> str | None:
        trial = self.x - self.direction / self.sigma
        if self.rounds_to_same(self.x, trial):
            return "small_step"
        f_trial, g_trial = self.nlp.objgrad(trial)
        self.ratio = self.reduction_ratio(f_trial, g_trial)
        p = self.params
        accepted = self.ratio >= p.eta1
        if self.ratio >= p.eta2:
            self.sigma = max(self.sigma_min, p.gamma1 * self.sigma)
        elif not accepted:
            self.sigma = p.gamma2 * self.sigma
        if accepted:
            self.accept(trial, f_trial, g_trial)
        elif self.memory is not None:
            self.beta_k *= 0.5  # JSOSolvers.jl fomo: γ₃ = 1/2
            self.choose_direction()
        self.step = self.sigma
        return None

    def reduction_ratio(self, f_trial: float, g_trial: Any) -> float:
        """ρ = ared / pred for s = -d/σ, whose linear model predicts the change -gᵀd/σ; guarded
        against rounding as the trust-region ratio (:func:`solvers.trust_region.reductions`)."""
        change = -self.decrease_rate / self.sigma

        def trial_slope() -> float:
            return -self.dot(g_trial, self.direction) / self.sigma

        return reductions(self.f, f_trial, change, change, trial_slope, self.eps).ratio

    def accept(self, trial: Any, f_trial: float, g_trial: Any) -> None:
        grad_norm = self.checked_grad_norm(f_trial, g_trial)
        if self.memory is not None:
            beta = self.params.beta
            self.memory = (1.0 - beta) * self.g + beta * self.memory
        self.x, self.f, self.g, self.grad_norm = trial, f_trial, g_trial, grad_norm
        if self.memory is not None:
            self.beta_k = self.largest_beta()
        self.choose_direction()

    def largest_beta(self) -> float:
        """JSOSolvers.jl fomo's ``find_beta``: the largest β_k ≤ β keeping d gradient-related."""
        gg = self.grad_norm**2
        excess = gg - self.dot(self.memory, self.g)
        spread = self.norm(self.memory - self.g)
        beta = self.params.beta
        beta1 = (1.0 - self.theta1) * gg / excess if excess > 0 else beta
        beta2 = (1.0 - self.theta2) * self.grad_norm / spread if spread > 0 else beta
        return min(beta, beta1, beta2)


r2 = solver_function(R2)
