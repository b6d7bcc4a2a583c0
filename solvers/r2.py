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
from typing import Any

import numpy
from minidnn.solvers import checks
from minidnn.solvers.batches import Batches
from minidnn.solvers.driver import run
from minidnn.solvers.solver import Solver
from minidnn.solvers.stats import ExecutionStats
from minidnn.solvers.stopping import Budget
from minidnn.solvers.trust_region import reductions


class R2(Solver):
    name = "r2"
    step_label = "sigma"

    def __init__(
        self,
        nlp: Any,
        x: Any,
        batches: Batches,
        budget: Budget,
        *,
        eta1: float | None,
        eta2: float,
        gamma1: float,
        gamma2: float,
        beta: float,
    ):
        super().__init__(nlp, x, batches, budget)
        eps = self.eps = float(numpy.finfo(nlp.meta.dtype).eps)
        self.eta1 = checks.in_range(
            "r2", "eta1", eps**0.25 if eta1 is None else eta1, 0.0, 1.0, low_open=True
        )
        self.eta2 = checks.in_range("r2", "eta2", eta2, self.eta1, 1.0, low_open=True)
        self.gamma1 = checks.in_range("r2", "gamma1", gamma1, 0.0, 1.0, low_open=True)
        self.gamma2 = checks.positive("r2", "gamma2", gamma2)
        if self.gamma2 <= 1:
            raise ValueError(f"r2: gamma2 must be > 1, got {gamma2!r}")
        self.beta = checks.in_range("r2", "beta", beta, 0.0, 1.0)
        self.sigma_min = eps  # JSOSolvers.jl fomo: αmax = 1/eps(T), i.e. σ ≥ eps
        self.theta1 = 0.1  # JSOSolvers.jl fomo: θ₁ = 0.1
        self.theta2 = eps ** (1.0 / 3.0)  # JSOSolvers.jl fomo: θ₂ = eps(T)^(1/3)
        self.sigma = math.nan
        self.memory = self.xp.zeros_like(x) if self.beta > 0 else None
        self.beta_k = 0.0
        self.direction: Any = None
        self.decrease_rate = math.nan  # gᵀd

    def start(self) -> None:
        super().start()
        self.sigma = 2.0 ** round(math.log2(self.grad_norm + 1.0))  # JSOSolvers.jl R2: σ₀
        self.step = self.sigma

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
        accepted = self.ratio >= self.eta1
        if self.ratio >= self.eta2:
            self.sigma = max(self.sigma_min, self.gamma1 * self.sigma)
        elif not accepted:
            self.sigma = self.gamma2 * self.sigma
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
            self.memory = (1.0 - self.beta) * self.g + self.beta * self.memory
        self.x, self.f, self.g, self.grad_norm = trial, f_trial, g_trial, grad_norm
        if self.memory is not None:
            self.beta_k = self.largest_beta()
        self.choose_direction()

    def largest_beta(self) -> float:
        """JSOSolvers.jl fomo's ``find_beta``: the largest β_k ≤ β keeping d gradient-related."""
        gg = self.grad_norm**2
        excess = gg - self.dot(self.memory, self.g)
        spread = self.norm(self.memory - self.g)
        beta1 = (1.0 - self.theta1) * gg / excess if excess > 0 else self.beta
        beta2 = (1.0 - self.theta2) * self.grad_norm / spread if spread > 0 else self.beta
        return min(self.beta, beta1, beta2)


def r2(
    nlp: Any,
    x0: Any = None,
    *,
    eta1: float | None = None,  # JSOSolvers.jl R2: η₁ = eps^(1/4) of the dtype
    eta2: float = 0.95,  # JSOSolvers.jl R2: η₂ = 0.95
    gamma1: float = 0.5,  # JSOSolvers.jl R2: γ₁ = 1/2
    gamma2: float = 2.0,  # JSOSolvers.jl R2: γ₂ = 1/γ₁ = 2
    beta: float = 0.0,  # JSOSolvers.jl R2: β = 0, no momentum
    **options: Any,
) -> ExecutionStats:
    """Minimises ``nlp`` by R2 quadratic regularisation (see the module docstring).

    eta1 (None: eps^(1/4)), eta2 = 0.95: acceptance thresholds; gamma1 = 1/2, gamma2 = 2: factors
    of σ after very successful and failed steps; beta: momentum in [0, 1) (0: none). All defaults are
    JSOSolvers.jl's. See :mod:`solvers.options` for ``options``.
    """
    params = {"eta1": eta1, "eta2": eta2, "gamma1": gamma1, "gamma2": gamma2, "beta": beta}
    return run(R2, nlp, x0, params, options)
