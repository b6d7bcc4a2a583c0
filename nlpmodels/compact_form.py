"""The forward limited-memory operators in compact form (Byrd, Nocedal & Schnabel 1994,
"Representations of quasi-Newton matrices and their use in limited memory methods", Math. Prog. 63):

    B = sigma I + Z' c(Z v),

Z the (2k, n) block of the k stored pairs (:class:`~minidnn.nlpmodels.pair_memory.PairMemory`, s and
y interleaved by slot) and c a small map given by each operator: a solve with a (2k, 2k) or (k, k)
matrix built from the inner products of the pairs. Those inner products are kept in the Gram matrix
G = Z Z', whose row and column for a new pair are computed when it is stored; the small matrix is
rebuilt from G, never from the n-vectors, and it is solved (LU with partial pivoting, backward
stable) at each product rather than inverted once: an explicit inverse lost up to seven digits on
the badly scaled test problems (Brown's, in float64).

Costs for k stored pairs:

- push: s's, s'y, y'y for the skip rule, the copy of s and y, then Z s and Z y from the stored rows
  (the new rows and columns of G: 4 k n flops) and O(k^3) work on small device arrays; no n-vector
  is rebuilt;
- product: Z v, a small solve, then Z' times 2k coefficients (4 k n flops) and sigma v.

The slots are not in chronological order once the ring has wrapped; the matrices are kept in slot
order, and where the order of the pairs matters (the strictly lower triangle L of S'Y) a mask of
"pair i is newer than pair j" stands for it.
"""

from __future__ import annotations

from typing import Any

import numpy
from minidnn.nlpmodels.quasi_newton_operator import PairProducts, QuasiNewtonOperator


class CompactForm(QuasiNewtonOperator):
    """B = sigma I + Z' c(Z v); subclasses give the skip rule, sigma and the small map c."""

    state_arrays = ("gram",)

    def _allocate(self) -> None:
        self.gram = self.backend.zeros((2 * self.mem, 2 * self.mem), dtype=self.dtype)

    def _stored(self, slot: int, products: PairProducts) -> None:
        self._record_gram(slot)
        self.sigma = self._scale(products)
        self._prepare()

    def _restored(self) -> None:
        if self.npairs > 0:
            self._prepare()

    def _record_gram(self, slot: int) -> None:
        """The rows and columns of the new s (index 2 slot) and y (2 slot + 1) in G: Z s and Z y, read
        from the stored rows (they replace the products with the pair that the slot held before)."""
        z, g = self.pairs.stored, self.gram
        k, i, j = z.shape[0], 2 * slot, 2 * slot + 1
        with_s, with_y = z @ z[i, :], z @ z[j, :]
        g[:k, i] = with_s
        g[i, :k] = with_s
        g[:k, j] = with_y  # written last, so that G[i, j] = G[j, i] = s'y exactly
        g[j, :k] = with_y

    def _matvec(self, v: Any) -> Any:
        if self.npairs == 0:
            return self.sigma * v
        z = self.pairs.stored
        return self.sigma * v + self._coefficients(z @ v) @ z

    # -- small matrices, in slot order -----------------------------------------------------------
    def _blocks(self) -> tuple[Any, Any, Any]:
        """S'S, S'Y and Y'Y of the stored pairs, (k, k) each: S'Y[i, j] = s_i' y_j."""
        size = 2 * self.npairs
        g = self.gram[:size, :size]
        return g[0::2, 0::2], g[0::2, 1::2], g[1::2, 1::2]

    def _rank(self) -> Any:
        """The age rank of each slot (0 for the oldest pair), as a device vector."""
        return self.backend.xp.roll(self.backend.arange(self.npairs), self.pairs.order()[0])

    def _solve(self, a: Any, b: Any) -> Any:
        """a^-1 b for a small symmetric a; its pseudo-inverse where a is singular to working precision.

        NumPy (and array-api-strict, which runs on it) raise on an exactly singular matrix; CuPy
        returns non-finite values instead, which a solver reports as such.
        """
        xp = self.backend.xp
        try:
            return xp.linalg.solve(a, b)
        except numpy.linalg.LinAlgError:
            return xp.linalg.pinv(a) @ b

    def _identity(self) -> Any:
        index = self.backend.arange(self.npairs)
        return self.backend.xp.astype(index[:, None] == index[None, :], self.dtype)

    def _interleave(self, on_s: Any, on_y: Any) -> Any:
        """The 2k coefficients on the rows of Z from the k on the s and the k on the y."""
        xp = self.backend.xp
        return xp.reshape(xp.stack([on_s, on_y], axis=1), (-1,))

    # -- what subclasses implement -------------------------------------------------------------
    def _scale(self, products: PairProducts) -> Any:
        """sigma of B0 = sigma I once the accepted pair is stored."""
        raise NotImplementedError

    def _prepare(self) -> None:
        """Builds the small matrices of c from the Gram matrix, after a pair was stored."""
        raise NotImplementedError

    def _coefficients(self, zv: Any) -> Any:
        """c(Z v): the 2k coefficients of B v - sigma v on the rows of Z."""
        raise NotImplementedError
