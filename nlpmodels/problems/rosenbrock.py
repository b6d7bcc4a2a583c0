"""Rosenbrock's function: the chained form in any dimension and the extended (block) form.

Both are sums of the pair term t(a, b) = 100 (b - a^2)^2 + (1 - a)^2 (Moré, Garbow & Hillstrom 1981,
"Testing Unconstrained Optimization Software", ACM TOMS 7(1), problem 1), whose derivatives are

    dt/da = -400 a (b - a^2) - 2 (1 - a)        dt/db = 200 (b - a^2)
    d2t/da2 = 1200 a^2 - 400 b + 2              d2t/dadb = -400 a          d2t/db2 = 200

The chained form pairs (x_i, x_{i+1}) for i = 1..n-1; the extended form (MGH problem 21) pairs
(x_{2i-1}, x_{2i}) for i = 1..n/2, so it is n/2 uncoupled copies of the 2-D function.
"""

from __future__ import annotations

from typing import Any

from minidnn.nlpmodels.problems.base import ClassicProblem, positive_int

from minidnn.backend import Backend


def _start(n: int) -> list[float]:
    """(-1.2, 1, -1.2, 1, ...): the MGH starting point of problems 1 and 21."""
    return [-1.2 if i % 2 == 0 else 1.0 for i in range(n)]


def _terms(xp: Any, a: Any, b: Any) -> Any:
    return xp.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)


def _term_grads(a: Any, b: Any) -> tuple[Any, Any]:
    u = b - a * a
    return -400.0 * a * u - 2.0 * (1.0 - a), 200.0 * u


def _term_hprods(a: Any, b: Any, va: Any, vb: Any) -> tuple[Any, Any]:
    return (1200.0 * a * a - 400.0 * b + 2.0) * va - 400.0 * a * vb, -400.0 * a * va + 200.0 * vb


class ChainedRosenbrock(ClassicProblem):
    """f(x) = sum_{i=1}^{n-1} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, n >= 2.

    Minimizer x* = (1, ..., 1), f* = 0. For n = 2 this is MGH problem 1 (CUTEst ROSENBR); for n >= 4 it also
    has a local minimizer near (-1, 1, ..., 1).
    """

    def __init__(self, n: int = 2, *, backend: str | Backend = "numpy", dtype: str = "float64"):
        n = positive_int("rosenbrock", n, minimum=2)
        name = "rosenbrock" if n == 2 else f"rosenbrock({n})"
        super().__init__(_start(n), name=name, backend=backend, dtype=dtype, f_star=0.0, x_star=[1.0] * n)

    def _obj(self, x: Any) -> float:
        return self._scalar(_terms(self.xp, x[:-1], x[1:]))

    def _grad(self, x: Any) -> Any:
        return self._scatter(*_term_grads(x[:-1], x[1:]))

    def _hprod(self, x: Any, v: Any) -> Any:
        return self._scatter(*_term_hprods(x[:-1], x[1:], v[:-1], v[1:]))

    def _scatter(self, heads: Any, tails: Any) -> Any:
        """Adds the per-term parts at positions 1..n-1 (heads) and 2..n (tails)."""
        xp = self.xp
        zero = xp.zeros_like(heads[:1])
        return xp.concat([heads, zero]) + xp.concat([zero, tails])


class ExtendedRosenbrock(ClassicProblem):
    """f(x) = sum_{i=1}^{n/2} 100 (x_{2i} - x_{2i-1}^2)^2 + (1 - x_{2i-1})^2, n even (MGH problem 21).

    Minimizer x* = (1, ..., 1), f* = 0.
    """

    def __init__(self, n: int = 4, *, backend: str | Backend = "numpy", dtype: str = "float64"):
        n = positive_int("extended_rosenbrock", n, multiple_of=2, minimum=2)
        super().__init__(
            _start(n),
            name=f"extended_rosenbrock({n})",
            backend=backend,
            dtype=dtype,
            f_star=0.0,
            x_star=[1.0] * n,
        )

    def _obj(self, x: Any) -> float:
        return self._scalar(_terms(self.xp, x[0::2], x[1::2]))

    def _grad(self, x: Any) -> Any:
        return self._interleave(*_term_grads(x[0::2], x[1::2]))

    def _hprod(self, x: Any, v: Any) -> Any:
        return self._interleave(*_term_hprods(x[0::2], x[1::2], v[0::2], v[1::2]))

    def _interleave(self, odd: Any, even: Any) -> Any:
        xp = self.xp
        return xp.reshape(xp.stack([odd, even], axis=1), (-1,))


def rosenbrock(n: int = 2, *, backend: str | Backend = "numpy", dtype: str = "float64") -> ChainedRosenbrock:
    """Rosenbrock's function in its chained form (the classic 2-D function for n = 2)."""
    return ChainedRosenbrock(n, backend=backend, dtype=dtype)


def extended_rosenbrock(
    n: int = 4, *, backend: str | Backend = "numpy", dtype: str = "float64"
) -> ExtendedRosenbrock:
    """The extended Rosenbrock function, MGH problem 21 (n even)."""
    return ExtendedRosenbrock(n, backend=backend, dtype=dtype)
