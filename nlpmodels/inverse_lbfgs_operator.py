"""The inverse limited-memory BFGS operator: v -> H v by the two-loop recursion
(:func:`~minidnn.nlpmodels.two_loop.two_loop`, Nocedal & Wright 2006, Algorithm 7.4).

This is what an L-BFGS line-search method needs (d = -H g), and all it keeps: the pairs and
rho_i = 1 / (s_i' y_i). A push costs the copy of s and y, three inner products and the finiteness
check; a product costs 4 k n flops for k stored pairs.

Skip rule: the curvature rule s'y > sqrt(eps) ||s|| ||y|| (:mod:`~minidnn.nlpmodels.secant_rules`,
after Nocedal & Wright eq. (6.7)). Scaling: with ``scaling=True``, H0 = gamma I with
gamma = s'y / y'y of the newest pair (Nocedal & Wright eq. (7.20)); otherwise H0 = I. It is the inverse
of :class:`~minidnn.nlpmodels.lbfgs_operator.LBFGSOperator` built from the same pairs.
"""

from __future__ import annotations

from typing import Any

from minidnn.nlpmodels.quasi_newton_operator import PairProducts, QuasiNewtonOperator
from minidnn.nlpmodels.secant_rules import bfgs_scale, curvature_margin, safe_curvature
from minidnn.nlpmodels.two_loop import two_loop


class InverseLBFGSOperator(QuasiNewtonOperator):
    """H, the inverse L-BFGS matrix of the last ``mem`` pairs (see the module docstring)."""

    state_arrays = ("rho",)

    def _allocate(self) -> None:
        self.rho = self.backend.zeros((self.mem,), dtype=self.dtype)
        self._margin = curvature_margin(self.backend.xp, self.dtype)

    def _accepts(self, s: Any, y: Any, products: PairProducts) -> Any:
        return safe_curvature(self.backend.xp, products.ss, products.sy, products.yy, self._margin)

    def _stored(self, slot: int, products: PairProducts) -> None:
        self.rho[slot] = 1.0 / products.sy
        if self.scaling:
            self.sigma = bfgs_scale(products.sy, products.yy)

    def _matvec(self, v: Any) -> Any:
        return two_loop(self.backend.xp, self.pairs, self.rho, self.sigma, v)
