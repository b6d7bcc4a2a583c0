"""The Lanczos process with full reorthogonalisation, on the model's device.

From a unit vector q_1, the process builds an orthonormal basis Q_j = [q_1 ... q_j] of the Krylov
space span{q_1, H q_1, ..., H^(j-1) q_1} and the tridiagonal T_j = Q_j^T H Q_j (Lanczos 1950; Golub &
Van Loan, Matrix Computations, 4th ed., algorithm 10.1.1):

    w = H q_i - beta_(i-1) q_(i-1)      alpha_i = q_i^T w      w = w - alpha_i q_i
    w = w - Q_i (Q_i^T w), twice        beta_i = ||w||          q_(i+1) = w / beta_i

Reorthogonalising against the whole basis, by classical Gram-Schmidt applied twice ("twice is
enough": Giraud, Langou & Rozloznik 2005), keeps Q orthonormal to working precision, so T has no
spurious copies of converged eigenvalues. The basis is one preallocated (steps, n) device array.

alpha and beta stay on the device; the host sees them every ``CHECK_EVERY`` steps, in one transfer
(``tridiagonal``), to test convergence and to find an invariant subspace: beta_i <= eps ||T|| is
rounding noise (the computed relation H Q = Q T + beta q e^T holds to about eps ||H||, Paige 1976),
so the steps after it are discarded, beta_i is set to 0 and the process restarts from a random
vector orthogonal to Q. T then splits into blocks, each exact for its own invariant subspace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy
from minidnn.nlpmodels.curvature.hessian import HessianAt

from minidnn.backend import Generator

CHECK_EVERY = 10  # steps between host checks: one transfer per ten products, at most nine spent past the goal


@dataclass(frozen=True)
class Tridiagonal:
    """T_j on the host (float64): diagonal ``alpha`` and couplings ``beta``; beta[-1] couples to q_(j+1)."""

    alpha: numpy.ndarray
    beta: numpy.ndarray
    eps: float

    @property
    def steps(self) -> int:
        return int(self.alpha.shape[0])

    def matrix(self) -> numpy.ndarray:
        off = self.beta[:-1]
        return numpy.diag(self.alpha) + numpy.diag(off, 1) + numpy.diag(off, -1)

    def ritz(self) -> tuple[numpy.ndarray, numpy.ndarray]:
        """Eigenvalues of T (ascending) and its orthonormal eigenvectors as columns."""
        return numpy.linalg.eigh(self.matrix())

    def scale(self) -> float:
        """A bound on ||T|| (Gershgorin): max_i |alpha_i| + beta_(i-1) + beta_i."""
        below = numpy.concatenate([[0.0], self.beta[:-1]])
        return float(numpy.max(numpy.abs(self.alpha) + below + self.beta))

    def first_breakdown(self, start: int) -> int | None:
        """The first i >= start, before the last step, with beta_i at the rounding level eps ||T||."""
        small = numpy.flatnonzero(self.beta[start:-1] <= self.eps * self.scale())
        return start + int(small[0]) if small.size else None


class Lanczos:
    """The process for one start vector (see the module docstring)."""

    def __init__(self, hessian: HessianAt, start: Any, max_steps: int, rng: Generator):
        self.h = hessian
        self.xp = hessian.xp
        self.rng = rng
        self.max_steps = min(max_steps, hessian.n)
        be, dtype = hessian.backend, hessian.dtype
        self.basis = be.zeros((self.max_steps, hessian.n), dtype=dtype)
        self.alpha = be.zeros((self.max_steps,), dtype=dtype)
        self.beta = be.zeros((self.max_steps,), dtype=dtype)
        self.basis[0, ...] = start / hessian.norm(start)
        self.steps = 0
        self.settled = 0  # couplings beta_0 .. beta_(settled-1) are checked (or set to 0 at a restart)
        self.eps = float(numpy.finfo(hessian.dtype_name).eps)

    def run(
        self, steps: int, done: Callable[[Tridiagonal], bool] | None = None, *, restart: bool = True
    ) -> Tridiagonal:
        """Advances to ``steps`` steps (at most ``max_steps``), or until ``done(T)`` at a check.

        At an invariant subspace the process restarts (``restart=True``) or stops there.
        """
        goal = min(steps, self.max_steps)
        tri = None
        while self.steps < goal:
            end = min(self.steps + CHECK_EVERY, goal)
            for i in range(self.steps, end):
                self._step(i)
            self.steps = end
            tri = self.tridiagonal()
            broken = tri.first_breakdown(self.settled)
            if broken is not None:
                self._truncate_after(broken)
                tri = self.tridiagonal()
                if not restart:
                    break
                self._restart()
                continue
            self.settled = self.steps - 1
            if done is not None and done(tri):
                break
        return tri if tri is not None else self.tridiagonal()

    def tridiagonal(self) -> Tridiagonal:
        """alpha and beta of the steps so far, moved to the host in one transfer."""
        j = self.steps
        both = self.h.backend.to_host(self.xp.stack([self.alpha[:j], self.beta[:j]]))
        host = numpy.asarray(both, dtype=numpy.float64)
        return Tridiagonal(host[0].copy(), host[1].copy(), self.eps)

    def ritz_vectors(self, coefficients: numpy.ndarray) -> Any:
        """Q_j s for each column s of ``coefficients`` (j x k, host): a (k, n) array on the device."""
        s = self.h.backend.to_device(numpy.ascontiguousarray(coefficients.T), dtype=self.h.dtype_name)
        return s @ self.basis[: self.steps, ...]

    # -- the steps ------------------------------------------------------------------------------
    def _step(self, i: int) -> None:
        xp, q = self.xp, self.basis[i, ...]
        w = self.h.product(q)
        if i > 0:
            w = w - self.beta[i - 1] * self.basis[i - 1, ...]
        a = xp.sum(q * w)
        w = self._orthogonalised(w - a * q, i + 1)
        b = self.h.norm(w)
        self.alpha[i] = a
        self.beta[i] = b
        if i + 1 < self.max_steps:
            self.basis[i + 1, ...] = w / xp.where(b > 0, b, xp.ones_like(b))

    def _orthogonalised(self, w: Any, j: int) -> Any:
        """w minus its projection on q_1..q_j, by classical Gram-Schmidt twice."""
        q = self.basis[:j, ...]
        for _ in range(2):
            w = w - (q @ w) @ q
        return w

    def _truncate_after(self, i: int) -> None:
        """Keeps steps 1..i+1 and sets beta_i = 0: q_1..q_(i+1) span an invariant subspace."""
        self.steps = self.settled = i + 1
        self.beta[i] = 0

    def _restart(self) -> None:
        """A random unit vector orthogonal to Q as the next basis vector."""
        r = self._orthogonalised(self.h.normal(self.rng), self.steps)
        self.basis[self.steps, ...] = r / self.h.norm(r)
