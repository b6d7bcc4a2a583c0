"""The basic trust region of JSOSolvers.jl's trunk (SolverTools.jl's ``TrustRegion``), after Conn,
Gould and Toint, Trust-Region Methods (SIAM 2000), Algorithm 6.1.1.

With ρ = ared / pred the ratio of actual to predicted reduction and ‖s‖ the step length:

    ρ <  1e-4   reject the step,  Δ ← ‖s‖ / 3
    ρ ≥  0.95   accept,           Δ ← min(Δmax, max(Δ, 1.5 ‖s‖))
    otherwise   accept,           Δ unchanged

with Δmax = 1/sqrt(eps). The reductions are computed as in SolverTools.jl's ``aredpred``: both are
shifted by 10 eps max(1, |f|) against rounding, and when they are tiny (|pred| < 1e4 eps or
|ared| < 1e4 eps |f|) the actual reduction is replaced by the trapezoidal estimate
(∇f(x)ᵀs + ∇f(x + s)ᵀs) / 2, which does not cancel. Unlike SolverTools.jl, the predicted reduction
paired with that estimate is not shifted: neither involves a difference of f values, and in float32
the shift (1.2e-6 max(1, |f|)) would swamp the small model decreases of late iterations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy

ACCEPTANCE = 1e-4  # SolverTools.jl TrustRegion: acceptance_threshold = 1e-4
INCREASE_THRESHOLD = 0.95  # SolverTools.jl TrustRegion: increase_threshold = 0.95
DECREASE_FACTOR = 1.0 / 3.0  # SolverTools.jl TrustRegion: decrease_factor = 1/3
INCREASE_FACTOR = 1.5  # SolverTools.jl TrustRegion: increase_factor = 1.5


def initial_radius(grad_norm: float) -> float:
    """Δ₀ = min(max(‖∇f(x₀)‖ / 10, 1), 100), JSOSolvers.jl's trunk."""
    return min(max(grad_norm / 10.0, 1.0), 100.0)


@dataclass
class Reductions:
    ared: float
    pred: float
    used_trial_slope: bool

    @property
    def ratio(self) -> float:
        return self.ared / self.pred


def reductions(
    f: float, f_trial: float, model_change: float, slope: float, trial_slope: Callable[[], float], eps: float
) -> Reductions:
    """ared and pred for a step s whose model change m(s) - m(0) is ``model_change`` (< 0).

    ``slope`` is ∇f(x)ᵀs; ``trial_slope()`` returns ∇f(x + s)ᵀs and is called only when the
    reductions are too small to trust f (SolverTools.jl's ``aredpred``).
    """
    shift = max(1.0, abs(f)) * 10.0 * eps  # SolverTools.jl aredpred: 10 eps max(1, |f|)
    ared = f_trial - f + shift
    tiny = 10_000.0 * eps  # SolverTools.jl aredpred: 1e4 eps
    if abs(model_change) < tiny or abs(ared) < tiny * abs(f):
        return Reductions((trial_slope() + slope) / 2.0, model_change, True)
    return Reductions(ared, model_change - shift, False)


class TrustRegion:
    """The radius Δ, its update, and the reduction ratio."""

    def __init__(self, radius: float, dtype: str):
        self.eps = float(numpy.finfo(dtype).eps)
        self.max_radius = 1.0 / math.sqrt(self.eps)  # SolverTools.jl TrustRegion: max_radius = 1/√eps
        self.radius = min(radius, self.max_radius)

    @staticmethod
    def acceptable(ratio: float) -> bool:
        """ρ ≥ 1e-4 (False for a NaN ratio)."""
        return ratio >= ACCEPTANCE

    def update(self, ratio: float, step_norm: float) -> None:
        """Shrinks to ‖s‖/3 on rejection, grows to max(Δ, 1.5 ‖s‖) on a very successful step."""
        if not ratio >= ACCEPTANCE:
            self.radius = DECREASE_FACTOR * step_norm
        elif ratio >= INCREASE_THRESHOLD:
            self.radius = min(self.max_radius, max(self.radius, INCREASE_FACTOR * step_norm))
