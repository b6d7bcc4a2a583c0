"""Powell's singular function (MGH problem 13) and its extended form (MGH problem 22, CUTEst POWELLSG).

Moré, Garbow & Hillstrom 1981, "Testing Unconstrained Optimization Software", ACM TOMS 7(1). On each
block (a, b, c, d) of four consecutive variables,

    t = (a + 10 b)^2 + 5 (c - d)^2 + (b - 2 c)^4 + 10 (a - d)^4,

with p = b - 2c and q = a - d:

    grad t = (2 (a + 10 b) + 40 q^3,  20 (a + 10 b) + 4 p^3,  10 (c - d) - 8 p^3,  -10 (c - d) - 40 q^3)

    Hess t = [[2 + 120 q^2,  20,            0,            -120 q^2    ],
              [20,           200 + 12 p^2,  -24 p^2,      0           ],
              [0,            -24 p^2,       10 + 48 p^2,  -10         ],
              [-120 q^2,     0,             -10,          10 + 120 q^2]]

The Hessian is singular at the minimizer x* = 0 (f* = 0), which slows Newton-type methods there.
Starting point: (3, -1, 0, 1) on every block.
"""

from __future__ import annotations

from typing import Any

from minidnn.nlpmodels.problems.base import ClassicProblem, positive_int

from minidnn.backend import Backend


class ExtendedPowell(ClassicProblem):
    """f(x) = sum over the n/4 blocks of t (see the module docstring); n a multiple of 4."""

    def __init__(
        self, n: int = 4, *, name: str | None = None, backend: str | Backend = "numpy", dtype: str = "float64"
    ):
        n = positive_int("extended_powell", n, multiple_of=4, minimum=4)
        super().__init__(
            [3.0, -1.0, 0.0, 1.0] * (n // 4),
            name=name or f"extended_powell({n})",
            backend=backend,
            dtype=dtype,
            f_star=0.0,
            x_star=[0.0] * n,
        )

    def _blocks(self, x: Any) -> tuple[Any, Any, Any, Any]:
        blocks = self.xp.reshape(x, (-1, 4))
        return blocks[:, 0], blocks[:, 1], blocks[:, 2], blocks[:, 3]

    def _join(self, parts: list[Any]) -> Any:
        xp = self.xp
        return xp.reshape(xp.stack(parts, axis=1), (-1,))

    def _obj(self, x: Any) -> float:
        a, b, c, d = self._blocks(x)
        t = (a + 10.0 * b) ** 2 + 5.0 * (c - d) ** 2 + (b - 2.0 * c) ** 4 + 10.0 * (a - d) ** 4
        return self._scalar(self.xp.sum(t))

    def _grad(self, x: Any) -> Any:
        a, b, c, d = self._blocks(x)
        r, s, p3, q3 = a + 10.0 * b, c - d, (b - 2.0 * c) ** 3, (a - d) ** 3
        return self._join(
            [2.0 * r + 40.0 * q3, 20.0 * r + 4.0 * p3, 10.0 * s - 8.0 * p3, -10.0 * s - 40.0 * q3]
        )

    def _hprod(self, x: Any, v: Any) -> Any:
        a, b, c, d = self._blocks(x)
        va, vb, vc, vd = self._blocks(v)
        p2, q2 = (b - 2.0 * c) ** 2, (a - d) ** 2
        return self._join(
            [
                (2.0 + 120.0 * q2) * va + 20.0 * vb - 120.0 * q2 * vd,
                20.0 * va + (200.0 + 12.0 * p2) * vb - 24.0 * p2 * vc,
                -24.0 * p2 * vb + (10.0 + 48.0 * p2) * vc - 10.0 * vd,
                -120.0 * q2 * va - 10.0 * vc + (10.0 + 120.0 * q2) * vd,
            ]
        )


def powell_singular(*, backend: str | Backend = "numpy", dtype: str = "float64") -> ExtendedPowell:
    """Powell's singular function, MGH problem 13 (n = 4)."""
    return ExtendedPowell(4, name="powell_singular", backend=backend, dtype=dtype)


def extended_powell(
    n: int = 8, *, backend: str | Backend = "numpy", dtype: str = "float64"
) -> ExtendedPowell:
    """The extended Powell singular function, MGH problem 22 (n a multiple of 4)."""
    return ExtendedPowell(n, backend=backend, dtype=dtype)
