"""Power iteration: the dominant eigenpair of the Hessian, the simple reference for Lanczos.

    v_0 a unit normal draw;   w = H v_i;   mu_i = v_i^T w;   v_(i+1) = w / ||w||

The Rayleigh quotient mu_i converges to the eigenvalue of largest magnitude, at the rate
|lambda_2 / lambda_1| per step (Golub & Van Loan, Matrix Computations, 4th ed., section 7.3.1): the
largest eigenvalue when H is positive semidefinite or when it dominates the most negative one. The
iteration stops at the first check where the residual ||H v_i - mu_i v_i|| <= tol |mu_i|. Quotients
and residuals stay on the device; the host sees them every ``CHECK_EVERY`` steps, in one transfer.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy
from minidnn.nlpmodels.curvature.hessian import HessianAt, count
from minidnn.nlpmodels.curvature.lanczos import CHECK_EVERY

MAX_ITER = 100  # PyHessian's hessian.eigenvalues(maxIter=100)
TOL = 1e-3  # PyHessian's hessian.eigenvalues(tol=1e-3), here on the relative residual


class Eigenpair(NamedTuple):
    """An eigenvalue estimate (float), its unit vector (on the model's device), and the steps taken."""

    value: float
    vector: Any
    iterations: int


def power_iteration(
    nlp: Any, x: Any, *, max_iter: int = MAX_ITER, tol: float = TOL, seed: int = 0
) -> Eigenpair:
    """The dominant eigenpair of the Hessian of ``nlp`` at ``x`` (see the module docstring)."""
    hessian = HessianAt(nlp, x, "power_iteration")
    max_iter = count("power_iteration", "max_iter", max_iter)
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not tol > 0:
        raise ValueError(f"power_iteration: tol must be a number > 0, got {tol!r}")
    xp, be = hessian.xp, hessian.backend
    v = hessian.normal(hessian.rng(seed))
    v = v / hessian.norm(v)
    quotients = be.zeros((max_iter,), dtype=hessian.dtype)
    residuals = be.zeros((max_iter,), dtype=hessian.dtype)
    done = 0
    while done < max_iter:
        end = min(done + CHECK_EVERY, max_iter)
        for i in range(done, end):
            w = hessian.product(v)
            mu = xp.sum(v * w)
            quotients[i] = mu
            residuals[i] = hessian.norm(w - mu * v)
            norm = hessian.norm(w)
            v = w / xp.where(norm > 0, norm, xp.ones_like(norm))
        host = numpy.asarray(be.to_host(xp.stack([quotients[done:end], residuals[done:end]])), numpy.float64)
        met = numpy.flatnonzero(host[1] <= tol * numpy.abs(host[0]))
        done = end
        if met.size:
            return Eigenpair(float(host[0][-1]), v, done)
    return Eigenpair(float(host[0][-1]), v, done)
