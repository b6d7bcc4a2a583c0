"""The limited-memory symmetric rank-one (SR1) operator: v -> B v in compact form.

For stored pairs (s_i, y_i), i = 1..k (oldest first), and B0 = sigma I, the SR1 update (Nocedal &
Wright 2006, "Numerical Optimization", 2nd ed., eq. (6.24))

    B_i = B_{i-1} + u_i u_i' / (u_i' s_i),      u_i = y_i - B_{i-1} s_i,

applied k times gives (Byrd, Nocedal & Schnabel 1994, Theorem 5.1; Nocedal & Wright eq. (7.29))

    B = sigma I + U N^-1 U',      U = Y - sigma S,      N = D + L + L' - sigma S'S,

S, Y the n x k matrices of the pairs, D = diag(s_i' y_i) and L the strictly lower triangle of S'Y
(L_ij = s_i' y_j for i newer than j). The denominators u_i' s_i of the recursion are the pivots of N
(its Schur complements in chronological order). N is rebuilt from the Gram matrix when a pair is
stored and solved at each product (:mod:`~minidnn.nlpmodels.compact_form`). B may be indefinite, as
SR1 intends.

Skip rule (Nocedal & Wright eq. (6.26), r = 1e-8, :mod:`~minidnn.nlpmodels.secant_rules`): a pair is
stored only when |s'u| >= r ||s|| ||u|| and s'u != 0 for u = y - B s and the current B (computed from
the vectors themselves). When N is rebuilt (the oldest pair dropped, or a new sigma), the recursion's
denominators are tested again in chronological order, u_i' s_i and ||u_i|| computed from N and
U'U = Y'Y - sigma (S'Y + Y'S) + sigma^2 S'S against the pairs kept before it; a stored pair failing
the test is left out of B (its row and column of N become those of the identity, and its entry of
U'v is zeroed), as a zero weight in the recursion: no pair is removed behind the caller's back.

Scaling: with ``scaling=True``, sigma = y'y / s'y of the newest stored pair when its curvature is
safely positive (the curvature rule of L-BFGS), else sigma is unchanged; otherwise sigma = 1.
"""

from __future__ import annotations

from typing import Any

from minidnn.nlpmodels.compact_form import CompactForm
from minidnn.nlpmodels.quasi_newton_operator import PairProducts
from minidnn.nlpmodels.secant_rules import curvature_margin, safe_curvature, sr1_denominator_ok


class LSR1Operator(CompactForm):
    """B, the limited-memory SR1 matrix of the last ``mem`` pairs (see the module docstring)."""

    def _allocate(self) -> None:
        super()._allocate()
        self.middle: Any = None
        self.kept: Any = None
        self._margin = curvature_margin(self.backend.xp, self.dtype)

    def _accepts(self, s: Any, y: Any, products: PairProducts) -> Any:
        u = y - self._matvec(s)
        return sr1_denominator_ok(self.backend.xp, products.ss, s @ u, u @ u)

    def _scale(self, products: PairProducts) -> Any:
        if not self.scaling:
            return self.sigma
        xp = self.backend.xp
        positive = safe_curvature(xp, products.ss, products.sy, products.yy, self._margin)
        return xp.where(positive, products.yy / xp.where(positive, products.sy, 1.0), self.sigma)

    def _prepare(self) -> None:
        """N of the kept pairs (identity rows elsewhere) and ``kept``, 1 for a kept pair, else 0."""
        xp, sigma = self.backend.xp, self.sigma
        ss, sy, yy = self._blocks()
        rank = self._rank()
        n_full = xp.where(rank[:, None] >= rank[None, :], sy, sy.T) - sigma * ss
        uu_full = yy - sigma * (sy + sy.T) + sigma * sigma * ss
        identity = self._identity()
        kept = self.backend.zeros((self.npairs,), dtype=self.dtype)
        for i in self.pairs.order():
            column = kept * n_full[:, i]
            # the recursion's u_i = y_i - B_{i-1} s_i is U (e_i - c), c over the pairs kept before it
            c = self._solve(self._restricted(n_full, kept, identity), column)
            d = n_full[i, i] - column @ c
            uu = uu_full[i, i] - 2.0 * (uu_full[:, i] @ c) + c @ (uu_full @ c)
            kept[i] = xp.astype(sr1_denominator_ok(xp, ss[i, i], d, uu), self.dtype)
        self.kept = kept
        self.middle = self._restricted(n_full, kept, identity)

    def _restricted(self, n_full: Any, kept: Any, identity: Any) -> Any:
        """N with the rows and columns of pairs not kept replaced by those of the identity."""
        both = kept[:, None] * kept[None, :]
        return both * n_full + (1.0 - both) * identity

    def _coefficients(self, zv: Any) -> Any:
        sigma = self.sigma
        p = self._solve(self.middle, self.kept * (zv[1::2] - sigma * zv[0::2]))
        return self._interleave(-sigma * p, p)
