"""The limited-memory BFGS model: B v by the unrolled BFGS recursion, H v = B^-1 v by two loops.

For stored pairs (s_i, y_i), i = 1..k (oldest first), and B0 = sigma I, the BFGS update

    B_i = B_{i-1} - b_i b_i' / (s_i' b_i) + y_i y_i' / (y_i' s_i),      b_i = B_{i-1} s_i

unrolls to B v = sigma v + sum_i [ y_i (y_i' v) / (y_i' s_i) - b_i (b_i' v) / (s_i' b_i) ] (Byrd,
Nocedal & Schnabel 1994, "Representations of quasi-Newton matrices and their use in limited memory
methods", Math. Prog. 63, give the equivalent compact form). The b_i are recomputed on each update
(O(k^2 n)); a product costs O(k n). The inverse product is the two-loop recursion (Nocedal & Wright
2006, "Numerical Optimization", 2nd ed., Algorithm 7.4) with H0 = I / sigma, so it inverts B exactly.

Skip rule: the pair is stored only when s'y > sqrt(eps) ||s|| ||y|| (eps the machine epsilon of the
model's dtype): B stays positive definite only when s'y > 0 (the curvature condition, Nocedal & Wright
eq. (6.7)); the relative margin sqrt(eps) rejects pairs whose curvature is lost in rounding. A zero
or non-finite pair is skipped.

Scaling: with ``scaling=True``, sigma = y'y / s'y of the newest pair (B0 = I / gamma with
gamma = s'y / y'y, Nocedal & Wright eq. (7.20)); otherwise sigma = 1.
"""

from __future__ import annotations

import math
from typing import Any

from minidnn.nlpmodels.model import _into
from minidnn.nlpmodels.operator import symmetric_operator
from minidnn.nlpmodels.quasi_newton import QuasiNewtonModel, norm


class LBFGSModel(QuasiNewtonModel):
    """A model whose ``hprod`` is the L-BFGS matrix (see the module docstring)."""

    def _accepts(self, s: Any, y: Any) -> Any:
        xp = self.meta.backend.xp
        return (s @ y) > math.sqrt(self._eps()) * norm(xp, s) * norm(xp, y)

    def _scale(self, s: Any, y: Any) -> Any:
        return (y @ y) / (s @ y) if self.scaling else 1.0

    def _rebuild(self) -> None:
        xp = self.meta.backend.xp
        s, y = self._s, self._y
        self._rho = 1.0 / xp.sum(s * y, axis=1)
        self._bs, self._beta = s[:0, :], self._rho[:0]
        for i in range(self.npairs):
            b = self._partial(s[i, :], i)
            self._bs = xp.concat([self._bs, b[None, :]])
            self._beta = xp.concat([self._beta, (1.0 / (s[i, :] @ b))[None]])

    def _partial(self, v: Any, k: int) -> Any:
        """B_k v, the matrix built from the first k pairs."""
        y, bs = self._y[:k, :], self._bs[:k, :]
        return self._sigma * v + ((y @ v) * self._rho[:k]) @ y - ((bs @ v) * self._beta[:k]) @ bs

    def _product(self, v: Any) -> Any:
        return self._partial(v, self.npairs)

    def inverse_hprod(self, v: Any, out: Any = None) -> Any:
        """H v = B^-1 v by the two-loop recursion (not counted: it evaluates nothing)."""
        self.check_vector("v", v)
        if out is not None:
            self.check_vector("out", out)
        s, y, rho = self._s, self._y, self._rho
        q, alphas = v, []
        for i in reversed(range(self.npairs)):
            alpha = rho[i] * (s[i, :] @ q)
            alphas.append(alpha)
            q = q - alpha * y[i, :]
        r = q / self._sigma
        for i, alpha in enumerate(reversed(alphas)):
            r = r + (alpha - rho[i] * (y[i, :] @ r)) * s[i, :]
        return _into(out, r)

    def inverse_op(self) -> Any:
        """v -> B^-1 v as a linear operator of the current memory (SciPy's on NumPy)."""
        meta = self.meta
        return symmetric_operator(meta.backend, meta.nvar, meta.x0.dtype, self.inverse_hprod)
