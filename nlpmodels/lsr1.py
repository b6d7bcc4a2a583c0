"""The limited-memory symmetric rank-one (SR1) model.

For stored pairs (s_i, y_i), i = 1..k (oldest first), and B0 = sigma I, the SR1 update (Nocedal &
Wright 2006, "Numerical Optimization", 2nd ed., eq. (6.24))

    B_i = B_{i-1} + u_i u_i' / (u_i' s_i),      u_i = y_i - B_{i-1} s_i

unrolls to B v = sigma v + sum_i c_i u_i (u_i' v) with c_i = 1 / (u_i' s_i). The u_i are recomputed on
each update (O(k^2 n)); a product costs O(k n). B may be indefinite, as SR1 intends.

Skip rule (Nocedal & Wright eq. (6.26), with their r = 1e-8): a pair is stored only when

    |s'(y - B s)| >= r ||s|| ||y - B s||   and   s'(y - B s) != 0,

for the current B; the second condition skips a pair that B already satisfies (y = B s), which
would add nothing. A non-finite pair is skipped. When B is rebuilt (the oldest pair dropped, or a
new sigma), a stored pair failing the same test against the rebuilt matrix keeps weight c_i = 0:
the test runs on the device and no pair is removed behind the caller's back.

Scaling: with ``scaling=True``, sigma = y'y / s'y of the newest stored pair when its curvature is
safely positive (s'y > sqrt(eps) ||s|| ||y||, as for L-BFGS), else sigma is unchanged; otherwise
sigma = 1.
"""

from __future__ import annotations

import math
from typing import Any

from minidnn.nlpmodels.quasi_newton import QuasiNewtonModel, norm

# Nocedal & Wright 2006, eq. (6.26): "r in (0, 1) is a small number, say r = 10^-8".
SKIP_RATIO = 1e-8


class LSR1Model(QuasiNewtonModel):
    """A model whose ``hprod`` is the limited-memory SR1 matrix (see the module docstring)."""

    def _accepts(self, s: Any, y: Any) -> Any:
        return self._valid(s, y - self._product(s))

    def _valid(self, s: Any, u: Any) -> Any:
        xp = self.meta.backend.xp
        d = s @ u
        return (xp.abs(d) >= SKIP_RATIO * norm(xp, s) * norm(xp, u)) & (d != 0.0)

    def _scale(self, s: Any, y: Any) -> Any:
        if not self.scaling:
            return 1.0
        xp = self.meta.backend.xp
        sy = s @ y
        positive = sy > math.sqrt(self._eps()) * norm(xp, s) * norm(xp, y)
        return xp.where(positive, (y @ y) / xp.where(positive, sy, 1.0), self._sigma)

    def _rebuild(self) -> None:
        xp = self.meta.backend.xp
        s, y = self._s, self._y
        self._u = s[:0, :]
        self._c = self.meta.backend.zeros((0,), dtype=s.dtype)
        for i in range(self.npairs):
            u = y[i, :] - self._partial(s[i, :], i)
            d = u @ s[i, :]
            valid = self._valid(s[i, :], u)
            c = xp.where(valid, 1.0 / xp.where(valid, d, 1.0), 0.0)
            self._u = xp.concat([self._u, u[None, :]])
            self._c = xp.concat([self._c, c[None]])

    def _partial(self, v: Any, k: int) -> Any:
        """B_k v, the matrix built from the first k pairs."""
        u = self._u[:k, :]
        return self._sigma * v + ((u @ v) * self._c[:k]) @ u

    def _product(self, v: Any) -> Any:
        return self._partial(v, self.npairs)
