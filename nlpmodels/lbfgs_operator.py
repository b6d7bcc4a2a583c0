"""The limited-memory BFGS operator: v -> B v in compact form, and B^-1 v by the two-loop recursion.

For stored pairs (s_i, y_i), i = 1..k (oldest first), and B0 = sigma I, k BFGS updates (Nocedal &
Wright 2006, "Numerical Optimization", 2nd ed., eq. (6.19)) give (Byrd, Nocedal & Schnabel 1994,
Theorem 2.3; Nocedal & Wright eq. (7.24))

    B = sigma I - [sigma S  Y] M^-1 [sigma S'; Y'],      M = [[sigma S'S, L], [L', -D]],

S, Y the n x k matrices of the pairs, D = diag(s_i' y_i) and L the strictly lower triangle of S'Y
(L_ij = s_i' y_j for i newer than j). M is rebuilt from the Gram matrix when a pair is stored and
solved at each product (:mod:`~minidnn.nlpmodels.compact_form`). ``solve(v)`` is B^-1 v by the
two-loop recursion (:func:`~minidnn.nlpmodels.two_loop.two_loop`, Algorithm 7.4) with H0 = I / sigma,
which inverts B exactly; :class:`~minidnn.nlpmodels.inverse_lbfgs_operator.InverseLBFGSOperator` is
the lighter operator to use when only that product is needed.

Skip rule: the curvature rule s'y > sqrt(eps) ||s|| ||y|| (:mod:`~minidnn.nlpmodels.secant_rules`,
after Nocedal & Wright eq. (6.7)); with every s_i' y_i > 0, B is positive definite and M nonsingular.
Scaling: with ``scaling=True``, sigma = y'y / s'y of the newest pair (B0 = I / gamma,
gamma = s'y / y'y, Nocedal & Wright eq. (7.20)); otherwise sigma = 1.
"""

from __future__ import annotations

from typing import Any

from minidnn.nlpmodels.compact_form import CompactForm
from minidnn.nlpmodels.model import _into
from minidnn.nlpmodels.quasi_newton_operator import PairProducts
from minidnn.nlpmodels.secant_rules import bfgs_scale, curvature_margin, safe_curvature
from minidnn.nlpmodels.two_loop import two_loop


class LBFGSOperator(CompactForm):
    """B, the L-BFGS matrix of the last ``mem`` pairs (see the module docstring)."""

    state_arrays = ("gram", "rho")

    def _allocate(self) -> None:
        super()._allocate()
        self.rho = self.backend.zeros((self.mem,), dtype=self.dtype)
        self.middle: Any = None
        self._margin = curvature_margin(self.backend.xp, self.dtype)

    def solve(self, v: Any, out: Any = None) -> Any:
        """B^-1 v by the two-loop recursion (written into ``out`` when given)."""
        self._check("v", v)
        if out is not None:
            self._check("out", out)
        return _into(out, two_loop(self.backend.xp, self.pairs, self.rho, self.sigma, v))

    def _accepts(self, s: Any, y: Any, products: PairProducts) -> Any:
        return safe_curvature(self.backend.xp, products.ss, products.sy, products.yy, self._margin)

    def _stored(self, slot: int, products: PairProducts) -> None:
        self.rho[slot] = 1.0 / products.sy
        super()._stored(slot, products)

    def _scale(self, products: PairProducts) -> Any:
        return bfgs_scale(products.sy, products.yy) if self.scaling else self.sigma

    def _prepare(self) -> None:
        """M = [[sigma S'S, L], [L', -D]] in slot order."""
        xp = self.backend.xp
        ss, sy, _ = self._blocks()
        rank = self._rank()
        lower = xp.where(rank[:, None] > rank[None, :], sy, 0.0)
        diagonal = sy * self._identity()
        top = xp.concat([self.sigma * ss, lower], axis=1)
        bottom = xp.concat([lower.T, -diagonal], axis=1)
        self.middle = xp.concat([top, bottom], axis=0)

    def _coefficients(self, zv: Any) -> Any:
        xp, k = self.backend.xp, self.npairs
        p = self._solve(self.middle, xp.concat([self.sigma * zv[0::2], zv[1::2]]))
        return self._interleave(-self.sigma * p[:k], -p[k:])
