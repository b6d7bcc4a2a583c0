"""A strictly convex quadratic with a chosen condition number.

f(x) = 1/2 (x - x*)' A (x - x*),   grad f = A (x - x*),   Hess f v = A v,

with A = Q diag(lambda) Q', Q the orthogonal factor of the QR factorization of a standard normal n x n
matrix (columns sign-normalized so that R has a positive diagonal), eigenvalues spaced geometrically,
lambda_i = condition^((i - 1) / (n - 1)), so that lambda_1 = 1 and lambda_n = condition, and x* drawn
from N(0, I). The data are drawn on the host from ``numpy.random.default_rng(seed)`` and moved to the
device once, so a seed gives the same problem on every backend. x0 = 0, f* = 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy
from minidnn.nlpmodels.problems.base import ClassicProblem, positive_int

from minidnn.backend import Backend


def _hessian(n: int, condition: float, rng: numpy.random.Generator) -> numpy.ndarray:
    q, r = numpy.linalg.qr(rng.standard_normal((n, n)))
    q = q * numpy.where(numpy.diag(r) < 0.0, -1.0, 1.0)
    eigenvalues = numpy.geomspace(1.0, condition, n)
    a = (q * eigenvalues) @ q.T
    return (a + a.T) / 2.0


class Quadratic(ClassicProblem):
    """1/2 (x - x*)' A (x - x*) with cond(A) = ``condition`` (see the module docstring)."""

    def __init__(
        self,
        n: int,
        condition: float,
        seed: int = 0,
        *,
        backend: str | Backend = "numpy",
        dtype: str = "float64",
    ):
        n = positive_int("quadratic", n)
        if not (isinstance(condition, int | float) and math.isfinite(condition) and condition >= 1.0):
            raise ValueError(f"quadratic: condition must be a finite number >= 1, got {condition!r}")
        rng = numpy.random.default_rng(seed)
        hessian = _hessian(n, float(condition), rng)
        solution = rng.standard_normal(n)
        super().__init__(
            numpy.zeros(n),
            name=f"quadratic({n}, cond={condition:g})",
            backend=backend,
            dtype=dtype,
            f_star=0.0,
            x_star=solution,
        )
        self.condition = float(condition)
        self.hessian = self.meta.backend.to_device(hessian, dtype=dtype)
        self._solution = self.meta.backend.to_device(solution, dtype=dtype)

    def _obj(self, x: Any) -> float:
        d = x - self._solution
        return self._scalar(0.5 * (d @ (self.hessian @ d)))

    def _grad(self, x: Any) -> Any:
        return self.hessian @ (x - self._solution)

    def _objgrad(self, x: Any) -> tuple[float, Any]:
        d = x - self._solution
        g = self.hessian @ d
        return self._scalar(0.5 * (d @ g)), g

    def _hprod(self, x: Any, v: Any) -> Any:
        return self.hessian @ v


def quadratic(
    n: int = 10,
    condition: float = 100.0,
    seed: int = 0,
    *,
    backend: str | Backend = "numpy",
    dtype: str = "float64",
) -> Quadratic:
    """A convex quadratic in n variables whose Hessian has condition number ``condition``."""
    return Quadratic(n, condition, seed, backend=backend, dtype=dtype)
