"""Line searches along a descent direction d from x: find t > 0 with φ(t) = f(x + t d) small enough.

``armijo_wolfe`` is the default of JSOSolvers.jl's lbfgs (SolverTools.jl's ``armijo_wolfe``):
first enlarge t (×5, at most 5 times) while the loose Wolfe condition φ'(t) ≥ τ₁ φ'(0) fails and
Armijo's condition holds, then backtrack (×0.4) until Armijo's condition

    φ(t) ≤ φ(0) + τ₀ t φ'(0),

or its approximate form of Hager and Zhang (2005, SIAM J. Optim. 16(1), eq. 4.1 with δ = 0.1), which
is reliable where rounding hides the decrease:

    φ(t) ≤ φ(0) + ε^(3/5) |φ(0)|   and   φ'(t) ≤ -0.8 φ'(0)   (i.e. (2δ - 1) φ'(0) ≥ φ'(t)).

``strong_wolfe`` brackets then zooms with safeguarded cubic interpolation (Nocedal and Wright,
Numerical Optimization, 2nd ed., Algorithms 3.5 and 3.6, eq. 3.59) until

    φ(t) ≤ φ(0) + c₁ t φ'(0)   and   |φ'(t)| ≤ c₂ |φ'(0)|.

A trial point where f is not finite counts as "too far" (its value is taken as +inf), so both
searches shrink the step; f = -inf is returned as is and ends the run as unbounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minidnn.solvers.core import dot
from minidnn.solvers.parameters import machine_eps

from minidnn.backend import Backend


@dataclass
class LinePoint:
    """φ(t) and, when known, ∇f(x + t d) and φ'(t) = ∇f(x + t d)ᵀd."""

    t: float
    f: float
    g: Any = None
    slope: float = math.nan


@dataclass
class LineSearchResult:
    point: LinePoint
    success: bool
    backtracks: int
    evaluations: int


class Line:
    """φ(t) = f(x + t d) on a model, evaluated with ``obj`` or ``objgrad``."""

    def __init__(self, nlp: Any, x: Any, d: Any):
        self.nlp = nlp
        self.backend: Backend = nlp.meta.backend
        self.x = x
        self.d = d
        self.evaluations = 0

    def point(self, t: float) -> Any:
        return self.x + t * self.d

    def value(self, t: float) -> LinePoint:
        self.evaluations += 1
        return LinePoint(t, _finite_or_inf(self.nlp.obj(self.point(t))))

    def value_and_slope(self, t: float) -> LinePoint:
        self.evaluations += 1
        f, g = self.nlp.objgrad(self.point(t))
        return LinePoint(t, _finite_or_inf(f), g, dot(self.backend, g, self.d))

    def add_slope(self, p: LinePoint) -> LinePoint:
        g = self.nlp.grad(self.point(p.t))
        return LinePoint(p.t, p.f, g, dot(self.backend, g, self.d))


def _finite_or_inf(f: float) -> float:
    return f if math.isfinite(f) or f == -math.inf else math.inf


def armijo_wolfe(
    line: Line,
    f0: float,
    slope0: float,
    *,
    tau0: float,
    tau1: float,
    bk_max: int,
    dtype: str,
    bw_max: int = 5,  # SolverTools.jl armijo_wolfe: bW_max = 5
    increase: float = 5.0,  # SolverTools.jl armijo_wolfe: t *= 5
    decrease: float = 0.4,  # SolverTools.jl armijo_wolfe: σ = 0.4
) -> LineSearchResult:
    """Armijo's condition with a loose Wolfe enlargement first (see the module docstring).

    ``tau0`` is Armijo's slope factor, ``tau1`` the loose Wolfe factor, ``bk_max`` the number of
    backtracks; their defaults are those of :class:`~minidnn.solvers.lbfgs.LBFGSParameters`.
    ``dtype`` sets the rounding level of the approximate Armijo condition.
    """
    eps_hz = machine_eps(dtype) ** 0.6  # SolverTools.jl: ϵ = eps(T)^(3/5)
    hz_slope = -0.8 * slope0  # SolverTools.jl: fact = -0.8, Hager-Zhang (2δ - 1) with δ = 0.1

    def armijo(p: LinePoint) -> bool:
        return p.f <= f0 + tau0 * p.t * slope0

    p = line.value_and_slope(1.0)
    enlargements = 0
    while p.slope < tau1 * slope0 and armijo(p) and enlargements < bw_max:
        p = line.value_and_slope(p.t * increase)
        enlargements += 1
    accepted = armijo(p) or (p.f <= f0 + eps_hz * abs(f0) and p.slope <= hz_slope)
    backtracks = 0
    while not accepted and backtracks < bk_max:
        backtracks += 1
        p = line.value(p.t * decrease)
        if armijo(p):
            accepted = True
        elif p.f <= f0 + eps_hz * abs(f0):
            p = line.add_slope(p)
            accepted = p.slope <= hz_slope
    return LineSearchResult(p, accepted, backtracks, line.evaluations)


def strong_wolfe(
    line: Line,
    f0: float,
    slope0: float,
    *,
    c1: float = 1e-4,  # Nocedal & Wright, section 3.1: c₁ = 1e-4
    c2: float = 0.9,  # Nocedal & Wright, section 3.1: c₂ = 0.9 for (quasi-)Newton directions
    max_evals: int = 30,  # evaluations of φ before giving up (same order as JSOSolvers.jl's bk_max = 25)
    expand: float = 4.0,  # growth of the trial step while bracketing (Nocedal & Wright leave it free)
) -> LineSearchResult:
    """A step satisfying the strong Wolfe conditions (Nocedal and Wright, Algorithms 3.5 and 3.6)."""
    zero = LinePoint(0.0, f0, None, slope0)

    def sufficient(p: LinePoint) -> bool:
        return p.f <= f0 + c1 * p.t * slope0

    def curvature(p: LinePoint) -> bool:
        return abs(p.slope) <= -c2 * slope0

    previous, t = zero, 1.0
    while line.evaluations < max_evals:
        p = line.value_and_slope(t)
        if not sufficient(p) or (previous.t > 0 and p.f >= previous.f):
            return _zoom(line, previous, p, sufficient, curvature, max_evals)
        if curvature(p):
            return LineSearchResult(p, True, 0, line.evaluations)
        if p.slope >= 0:
            return _zoom(line, p, previous, sufficient, curvature, max_evals)
        previous, t = p, t * expand
    return LineSearchResult(previous, previous.t > 0 and sufficient(previous), 0, line.evaluations)


def _zoom(
    line: Line,
    lo: LinePoint,
    hi: LinePoint,
    sufficient: Callable[[LinePoint], bool],
    curvature: Callable[[LinePoint], bool],
    max_evals: int,
) -> LineSearchResult:
    """Nocedal and Wright, Algorithm 3.6: ``lo`` satisfies the sufficient decrease, the bracket holds
    a step satisfying both conditions."""
    shrinks = 0
    while line.evaluations < max_evals:
        p = line.value_and_slope(_cubic_step(lo, hi))
        shrinks += 1
        if not sufficient(p) or p.f >= lo.f:
            hi = p
            continue
        if curvature(p):
            return LineSearchResult(p, True, shrinks, line.evaluations)
        if p.slope * (hi.t - lo.t) >= 0:
            hi = lo
        lo = p
    return LineSearchResult(lo, lo.t > 0, shrinks, line.evaluations)


def _cubic_step(a: LinePoint, b: LinePoint) -> float:
    """The minimiser of the cubic interpolating φ and φ' at a and b (Nocedal and Wright, eq. 3.59),
    kept at least 10% of the interval away from both ends; bisection where the cubic fails."""
    low, high = min(a.t, b.t), max(a.t, b.t)
    margin = 0.1 * (high - low)  # safeguard: the new step stays inside [low + 10%, high - 10%]
    midpoint = 0.5 * (low + high)
    if not (math.isfinite(b.f) and math.isfinite(b.slope)):
        return midpoint
    d1 = a.slope + b.slope - 3.0 * (a.f - b.f) / (a.t - b.t)
    radicand = d1 * d1 - a.slope * b.slope
    if radicand < 0:
        return midpoint
    d2 = math.copysign(math.sqrt(radicand), b.t - a.t)
    denominator = b.slope - a.slope + 2.0 * d2
    if denominator == 0:
        return midpoint
    t = b.t - (b.t - a.t) * (b.slope + d2 - d1) / denominator
    if not math.isfinite(t):
        return midpoint
    return min(max(t, low + margin), high - margin)
