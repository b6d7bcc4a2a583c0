"""Steihaug-Toint truncated conjugate gradient for the trust-region subproblem

    minimise  m(s) = gᵀs + ½ sᵀHs   subject to ‖s‖ ≤ Δ

(Steihaug 1983; Toint 1981; Conn, Gould and Toint, Trust-Region Methods, Algorithm 7.5.1; Nocedal
and Wright, Numerical Optimization, Algorithm 7.2). CG on Hs = -g from s = 0, leaving early when

    dᵀHd ≤ 0        negative curvature: follow d to the boundary
    ‖s + αd‖ ≥ Δ    the next iterate leaves the region: stop on the boundary
    ‖r‖ ≤ atol + rtol ‖g‖    converged (r = Hs + g), tested after at least one step
    j = max_iter    the inner iteration cap

Only H products are needed (an exact ``hprod`` or a quasi-Newton operator). The scalars the method
branches on are carried by the CG recurrences, so each inner iteration transfers two numbers
(dᵀHd and ‖r‖²) from the device:

    sᵀs  ← sᵀs + 2α sᵀd + α² dᵀd
    sᵀd  ← β (sᵀd + α dᵀd)           (rᵀs = 0 after a CG step, Conn, Gould and Toint §7.5.1)
    dᵀd  ← rᵀr + β² dᵀd              (rᵀd = 0 after a CG step)
    m(s) ← m(s) - τ rᵀr + ½ τ² dᵀHd   (a step τ along d, since rᵀd = -rᵀr)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minidnn.solvers.core import NonFinite, dot

from minidnn.backend import Backend

CONVERGED = "converged"
NEGATIVE_CURVATURE = "negative curvature"
BOUNDARY = "on trust-region boundary"
MAX_ITER = "inner iteration cap"


@dataclass
class CGResult:
    step: Any
    model_decrease: float
    """m(s) - m(0) = gᵀs + ½ sᵀHs."""
    iterations: int
    exit: str


def truncated_cg(
    backend: Backend,
    hprod: Callable[[Any], Any],
    g: Any,
    grad_norm: float,
    radius: float,
    *,
    atol: float,
    rtol: float,
    max_iter: int,
) -> CGResult:
    """An approximate minimiser of gᵀs + ½ sᵀHs in the ball ‖s‖ ≤ ``radius``."""
    xp = backend.xp
    tol = atol + rtol * grad_norm
    s = xp.zeros_like(g)
    r = g
    d = -g
    rr = grad_norm * grad_norm
    ss, sd, dd = 0.0, 0.0, rr
    model = 0.0
    if rr == 0.0:  # g = 0: s = 0 is the model's stationary point (and CG's first ratio would be 0/0)
        return CGResult(s, model, 0, CONVERGED)
    for j in range(1, max_iter + 1):
        hd = hprod(d)
        dhd = dot(backend, d, hd)
        if not math.isfinite(dhd):
            raise NonFinite(f"the Hessian-vector product is not finite (dᵀHd = {dhd})")
        if dhd <= 0:
            tau = _to_boundary(ss, sd, dd, radius)
            return CGResult(s + tau * d, model - tau * rr + 0.5 * tau * tau * dhd, j, NEGATIVE_CURVATURE)
        alpha = rr / dhd
        if ss + 2.0 * alpha * sd + alpha * alpha * dd >= radius * radius:
            tau = _to_boundary(ss, sd, dd, radius)
            return CGResult(s + tau * d, model - tau * rr + 0.5 * tau * tau * dhd, j, BOUNDARY)
        s = s + alpha * d
        ss += 2.0 * alpha * sd + alpha * alpha * dd
        model -= 0.5 * alpha * rr
        r = r + alpha * hd
        rr_next = dot(backend, r, r)
        if math.sqrt(rr_next) <= tol:
            return CGResult(s, model, j, CONVERGED)
        beta = rr_next / rr
        d = beta * d - r
        sd = beta * (sd + alpha * dd)
        dd = rr_next + beta * beta * dd
        rr = rr_next
    return CGResult(s, model, max_iter, MAX_ITER)


def _to_boundary(ss: float, sd: float, dd: float, radius: float) -> float:
    """τ ≥ 0 with ‖s + τ d‖ = Δ, from the root of dᵀd τ² + 2 sᵀd τ + sᵀs - Δ² (no cancellation)."""
    gap = max(radius * radius - ss, 0.0)
    root = math.sqrt(sd * sd + dd * gap)
    if sd > 0:
        return gap / (sd + root)
    return (root - sd) / dd
