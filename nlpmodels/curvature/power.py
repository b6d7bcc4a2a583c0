"""Power iteration: the dominant eigenpair of the Hessian, the simple reference for Lanczos.

    v_0 a unit normal draw;   w = H v_i;   mu_i = v_i^T w;   v_(i+1) = w / ||w||

The Rayleigh quotient mu_i converges to the eigenvalue of largest magnitude, at the rate
|lambda_2 / lambda_1| per step (Golub & Van Loan, Matrix Computations, 4th ed., section 7.3.1): the
largest eigenvalue when H is positive semidefinite or when it dominates the most negative one. The
iteration stops at the first check where the residual ||H v_i - mu_i v_i|| <= tol |mu_i|. Quotients
and residuals stay on the device; the host sees them every ``CHECK_EVERY`` steps, in one transfer.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy
from minidnn.nlpmodels.curvature.hessian import HessianAt, count, positive
from minidnn.nlpmodels.curvature.lanczos import CHECK_EVERY

MAX_ITER = 100  # PyHessian's hessian.eigenvalues(maxIter=100)
TOL = 1e-3  # PyHessian's hessian.eigenvalues(tol=1e-3), here on the relative residual


class Eigenpair(NamedTuple):
    """The last Rayleigh quotient mu_i, the last iterate v_(i+1) (unit, on the model's device), and
    the number of products made."""

    value: float
    vector: Any
    iterations: int


def power_iteration(
    nlp: Any, x: Any, *, max_iter: int = MAX_ITER, tol: float = TOL, seed: int = 0
) -> Eigenpair:
    """The dominant eigenpair of the Hessian of ``nlp`` at ``x`` (see the module docstring)."""
    hessian = HessianAt(nlp, x, "power_iteration")
    max_iter = count("power_iteration", "max_iter", max_iter)
    tol = positive("power_iteration", "tol", tol)
    xp, be = hessian.xp, hessian.backend
    v = hessian.normal(hessian.rng(seed))
    v = v / hessian.norm(v)
    quotients = be.zeros((max_iter,), dtype=hessian.dtype)
    residuals = be.zeros((max_iter,), dtype=hessian.dtype)
    done, value = 0, math.nan
    while done < max_iter:
        end = min(done + CHECK_EVERY, max_iter)
        for i in range(done, end):
            w = hessian.product(v)
            mu = xp.sum(v * w)
            quotients[i] = mu
            residuals[i] = hessian.norm(w - mu * v)
            norm = hessian.norm(w)
            v = w / xp.where(norm > 0, norm, xp.ones_like(norm))
        quotient, residual = numpy.asarray(
            be.to_host(xp.stack([quotients[done:end], residuals[done:end]])), dtype=numpy.float64
        )
        done, value = end, float(quotient[-1])
        if numpy.any(residual <= tol * numpy.abs(quotient)):
            break
    return Eigenpair(value, v, done)
