"""What a limited-memory quasi-Newton operator does with a secant pair (s, y): keep it or skip it, and
the scale sigma of its initial matrix B0 = sigma I.

Every rule reads inner products already on the device (s's, s'y, y'y, and for SR1 s'u, u'u with
u = y - B s) and returns a 0-d device array; nothing crosses to the host here. A comparison with NaN
is false, so a pair with NaN products fails every rule.

Curvature (BFGS): keep (s, y) only when s'y > sqrt(eps) ||s|| ||y||, eps the machine epsilon of the
dtype. BFGS keeps B positive definite only when s'y > 0, the curvature condition (Nocedal & Wright
2006, "Numerical Optimization", 2nd ed., eq. (6.7)); the relative margin sqrt(eps) also rejects pairs
whose curvature is lost in rounding.

SR1 denominator (Nocedal & Wright eq. (6.26)): keep (s, y) only when |s'u| >= r ||s|| ||u|| with
r = 1e-8, and s'u != 0; the second condition skips a pair that B already satisfies (u = 0).

Scaling (Nocedal & Wright eq. (7.20)): sigma = y'y / s'y of the newest pair, that is H0 = gamma I with
gamma = s'y / y'y for the inverse.
"""

from __future__ import annotations

import math
from typing import Any

# Nocedal & Wright 2006, eq. (6.26): "r in (0, 1) is a small number, say r = 10^-8".
SR1_SKIP_RATIO = 1e-8


def curvature_margin(xp: Any, dtype: Any) -> float:
    """sqrt(eps) of ``dtype``: the relative margin of the curvature rule."""
    return math.sqrt(float(xp.finfo(dtype).eps))


def safe_curvature(xp: Any, ss: Any, sy: Any, yy: Any, margin: float) -> Any:
    """s'y > margin ||s|| ||y|| (the curvature rule) as a 0-d device boolean."""
    return sy > margin * xp.sqrt(ss) * xp.sqrt(yy)


def sr1_denominator_ok(xp: Any, ss: Any, su: Any, uu: Any) -> Any:
    """|s'u| >= r ||s|| ||u|| and s'u != 0 (Nocedal & Wright eq. (6.26)) as a 0-d device boolean.

    ``uu`` below zero (rounding in a product computed from inner products) counts as zero.
    """
    norm_u = xp.sqrt(xp.maximum(uu, 0.0))
    return (xp.abs(su) >= SR1_SKIP_RATIO * xp.sqrt(ss) * norm_u) & (su != 0.0)


def bfgs_scale(sy: Any, yy: Any) -> Any:
    """sigma = y'y / s'y of B0 = sigma I (Nocedal & Wright eq. (7.20))."""
    return yy / sy
