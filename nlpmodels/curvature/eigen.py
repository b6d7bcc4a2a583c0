"""The k largest eigenvalues of the Hessian at a point, by Lanczos with full reorthogonalisation.

Ritz pairs (theta_i, y_i = Q_j s_i) of T_j approximate eigenpairs of H; the residual of each is known
without another product, ||H y_i - theta_i y_i|| = beta_j |e_j^T s_i| (Golub & Van Loan, Matrix
Computations, 4th ed., section 10.1.4). The process stops once the k largest Ritz values all have a
residual below ``tol`` ||T||; each is then within that residual of an eigenvalue of H, and within
residual^2 / gap once separated from the rest of the spectrum by gap (Parlett, The Symmetric
Eigenvalue Problem, 1998, theorems 4.5.1 and 11.7.1).

One start vector sees one copy of a repeated eigenvalue until the Krylov space is exhausted or the
process restarts after an invariant subspace: a multiplicity can be missed. With ``max_iter`` = n
every eigenvalue is found (to rounding).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy
from minidnn.nlpmodels.curvature.hessian import HessianAt, count, positive
from minidnn.nlpmodels.curvature.lanczos import Lanczos, Tridiagonal

MAX_STEPS = 200  # default cap on the Lanczos vectors kept (memory: 200 n values); a choice, not a citation


def eigenvalues(
    nlp: Any,
    x: Any,
    k: int = 1,
    *,
    vectors: bool = False,
    seed: int = 0,
    max_iter: int | None = None,
    tol: float | None = None,
) -> numpy.ndarray | tuple[numpy.ndarray, Any]:
    """The ``k`` largest (algebraic) eigenvalues of the Hessian of ``nlp`` at ``x``, descending.

    Returns a float64 NumPy array of k values; with ``vectors=True`` also a (k, n) array on the
    model's device whose row i is the unit eigenvector of value i. ``max_iter`` caps the Lanczos
    steps (products with H; default min(n, 200)); ``tol`` is the relative residual that counts as
    converged (default sqrt(eps) of the model's dtype). The start vector is a normal draw from
    ``seed``. A ``RuntimeWarning`` says so when ``max_iter`` steps do not converge; the best
    estimates are returned.
    """
    hessian = HessianAt(nlp, x, "eigenvalues")
    n = hessian.n
    k = count("eigenvalues", "k", k)
    if k > n:
        raise ValueError(f"eigenvalues: k must be <= nvar = {n}, got {k}")
    steps = min(n, MAX_STEPS) if max_iter is None else count("eigenvalues", "max_iter", max_iter)
    if steps < k:
        raise ValueError(f"eigenvalues: max_iter must be >= k = {k}, got {steps}")
    eps = float(numpy.finfo(hessian.dtype_name).eps)
    tol = eps**0.5 if tol is None else positive("eigenvalues", "tol", tol)
    rng = hessian.rng(seed)
    lanczos = Lanczos(hessian, hessian.normal(rng), steps, rng)
    tri = lanczos.run(steps, lambda t: _largest(t, k, tol)[2])
    values, coefficients, converged = _largest(tri, k, tol)
    if not converged and tri.steps < n:
        warnings.warn(
            f"eigenvalues: the {k} largest Ritz values did not reach relative residual {tol:.1e} in "
            f"{tri.steps} Lanczos steps; raise max_iter (n = {n})",
            RuntimeWarning,
            stacklevel=2,
        )
    if vectors:
        return values, lanczos.ritz_vectors(coefficients)
    return values


def _largest(tri: Tridiagonal, k: int, tol: float) -> tuple[numpy.ndarray, numpy.ndarray, bool]:
    """The k largest Ritz values (descending), their coefficient vectors, and whether all converged."""
    theta, s = tri.ritz()
    order = numpy.argsort(theta)[::-1][:k]
    residuals = abs(tri.beta[-1]) * numpy.abs(s[-1, order])
    scale = max(float(numpy.max(numpy.abs(theta))), numpy.finfo(numpy.float64).tiny)
    converged = order.size == k and bool(numpy.all(residuals <= tol * scale))
    return theta[order], s[:, order], converged
