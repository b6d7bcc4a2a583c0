"""Small problems of Moré, Garbow & Hillstrom 1981, "Testing Unconstrained Optimization Software",
ACM TOMS 7(1), each with its MGH number, standard starting point and known solution.

Each is a sum of squares of residuals r_i (see :mod:`nlpmodels.problems.least_squares`); the
docstrings give r, its Jacobian J and the curvature term C = sum_i r_i Hess r_i.
"""

from __future__ import annotations

import math
from typing import Any

from minidnn.nlpmodels.problems.least_squares import LeastSquaresProblem, assemble

from minidnn.backend import Backend


class FreudensteinRoth(LeastSquaresProblem):
    """MGH problem 2 (CUTEst FREUROTH for n = 2).

    r1 = -13 + x1 + ((5 - x2) x2 - 2) x2,   r2 = -29 + x1 + ((x2 + 1) x2 - 14) x2;
    J = [[1, 10 x2 - 3 x2^2 - 2], [1, 3 x2^2 + 2 x2 - 14]];  C = diag(0, r1 (10 - 6 x2) + r2 (6 x2 + 2)).
    x0 = (0.5, -2). Global minimizer (5, 4) with f* = 0; a local minimizer near (11.41, -0.8968) with
    f = 48.9842 attracts many methods.
    """

    def __init__(self, *, backend: str | Backend = "numpy", dtype: str = "float64"):
        super().__init__(
            [0.5, -2.0], name="freudenstein_roth", backend=backend, dtype=dtype, f_star=0.0, x_star=[5.0, 4.0]
        )

    def residuals(self, x: Any) -> Any:
        x1, x2 = x[0], x[1]
        return self.xp.stack(
            [-13.0 + x1 + ((5.0 - x2) * x2 - 2.0) * x2, -29.0 + x1 + ((x2 + 1.0) * x2 - 14.0) * x2]
        )

    def jacobian(self, x: Any) -> Any:
        x2 = x[1]
        rows = [[1.0, 10.0 * x2 - 3.0 * x2 * x2 - 2.0], [1.0, 3.0 * x2 * x2 + 2.0 * x2 - 14.0]]
        return assemble(self.xp, x2, rows)

    def curvature(self, x: Any, r: Any) -> Any:
        x2 = x[1]
        return assemble(self.xp, x2, [[0.0, 0.0], [0.0, r[0] * (10.0 - 6.0 * x2) + r[1] * (6.0 * x2 + 2.0)]])


class BrownBadlyScaled(LeastSquaresProblem):
    """MGH problem 4 (CUTEst BROWNBS).

    r = (x1 - 1e6, x2 - 2e-6, x1 x2 - 2);  J = [[1, 0], [0, 1], [x2, x1]];  C = r3 [[0, 1], [1, 0]].
    x0 = (1, 1); minimizer (1e6, 2e-6), f* = 0.
    """

    def __init__(self, *, backend: str | Backend = "numpy", dtype: str = "float64"):
        super().__init__(
            [1.0, 1.0],
            name="brown_badly_scaled",
            backend=backend,
            dtype=dtype,
            f_star=0.0,
            x_star=[1e6, 2e-6],
        )

    def residuals(self, x: Any) -> Any:
        x1, x2 = x[0], x[1]
        return self.xp.stack([x1 - 1e6, x2 - 2e-6, x1 * x2 - 2.0])

    def jacobian(self, x: Any) -> Any:
        return assemble(self.xp, x[0], [[1.0, 0.0], [0.0, 1.0], [x[1], x[0]]])

    def curvature(self, x: Any, r: Any) -> Any:
        return assemble(self.xp, x[0], [[0.0, r[2]], [r[2], 0.0]])


class Beale(LeastSquaresProblem):
    """MGH problem 5 (CUTEst BEALE).

    r_i = y_i - x1 (1 - x2^i), i = 1, 2, 3, y = (1.5, 2.25, 2.625);  J_i = (x2^i - 1, i x1 x2^(i-1));
    C = [[0, r1 + 2 x2 r2 + 3 x2^2 r3], [same, 2 x1 r2 + 6 x1 x2 r3]].
    x0 = (1, 1); minimizer (3, 0.5), f* = 0.
    """

    Y = (1.5, 2.25, 2.625)

    def __init__(self, *, backend: str | Backend = "numpy", dtype: str = "float64"):
        super().__init__(
            [1.0, 1.0], name="beale", backend=backend, dtype=dtype, f_star=0.0, x_star=[3.0, 0.5]
        )

    def residuals(self, x: Any) -> Any:
        x1, x2 = x[0], x[1]
        return self.xp.stack([y - x1 * (1.0 - x2**i) for i, y in enumerate(self.Y, start=1)])

    def jacobian(self, x: Any) -> Any:
        x1, x2 = x[0], x[1]
        rows = [[x2**i - 1.0, i * x1 * x2 ** (i - 1)] for i in (1, 2, 3)]
        return assemble(self.xp, x1, rows)

    def curvature(self, x: Any, r: Any) -> Any:
        x1, x2 = x[0], x[1]
        off = r[0] + 2.0 * x2 * r[1] + 3.0 * x2 * x2 * r[2]
        return assemble(self.xp, x1, [[0.0, off], [off, 2.0 * x1 * r[1] + 6.0 * x1 * x2 * r[2]]])


class HelicalValley(LeastSquaresProblem):
    """MGH problem 7 (CUTEst HELIX).

    r = (10 (x3 - 10 theta), 10 (rho - 1), x3) with rho = sqrt(x1^2 + x2^2) and
    theta = atan(x2 / x1) / (2 pi), plus 1/2 when x1 < 0 (undefined at x1 = 0). With
    grad theta = (-x2, x1) / (2 pi rho^2):
    J = [[-100 theta_1, -100 theta_2, 10], [10 x1 / rho, 10 x2 / rho, 0], [0, 0, 1]] and on (x1, x2)
    C = -100 r1 Hess theta + 10 r2 Hess rho,
    Hess theta = [[2 x1 x2, x2^2 - x1^2], [x2^2 - x1^2, -2 x1 x2]] / (2 pi rho^4),
    Hess rho = [[x2^2, -x1 x2], [-x1 x2, x1^2]] / rho^3.
    x0 = (-1, 0, 0); minimizer (1, 0, 0), f* = 0.
    """

    def __init__(self, *, backend: str | Backend = "numpy", dtype: str = "float64"):
        super().__init__(
            [-1.0, 0.0, 0.0],
            name="helical_valley",
            backend=backend,
            dtype=dtype,
            f_star=0.0,
            x_star=[1.0, 0.0, 0.0],
        )

    def residuals(self, x: Any) -> Any:
        xp = self.xp
        x1, x2, x3 = x[0], x[1], x[2]
        theta = xp.atan(x2 / x1) / (2.0 * math.pi) + 0.5 * xp.astype(x1 < 0.0, x.dtype)
        rho = xp.sqrt(x1 * x1 + x2 * x2)
        return xp.stack([10.0 * (x3 - 10.0 * theta), 10.0 * (rho - 1.0), x3])

    def jacobian(self, x: Any) -> Any:
        x1, x2 = x[0], x[1]
        rho2 = x1 * x1 + x2 * x2
        rho = self.xp.sqrt(rho2)
        t = 100.0 / (2.0 * math.pi * rho2)
        return assemble(
            self.xp, x1, [[t * x2, -t * x1, 10.0], [10.0 * x1 / rho, 10.0 * x2 / rho, 0.0], [0.0, 0.0, 1.0]]
        )

    def curvature(self, x: Any, r: Any) -> Any:
        x1, x2 = x[0], x[1]
        rho2 = x1 * x1 + x2 * x2
        a = -100.0 * r[0] / (2.0 * math.pi * rho2 * rho2)
        b = 10.0 * r[1] / (rho2 * self.xp.sqrt(rho2))
        c11 = a * 2.0 * x1 * x2 + b * x2 * x2
        c12 = a * (x2 * x2 - x1 * x1) - b * x1 * x2
        c22 = -a * 2.0 * x1 * x2 + b * x1 * x1
        return assemble(self.xp, x1, [[c11, c12, 0.0], [c12, c22, 0.0], [0.0, 0.0, 0.0]])


class Woods(LeastSquaresProblem):
    """MGH problem 14, Wood's function (CUTEst WOODS for n = 4).

    r = (10 (x2 - x1^2), 1 - x1, sqrt(90) (x4 - x3^2), 1 - x3, sqrt(10) (x2 + x4 - 2), (x2 - x4) / sqrt(10)),
    that is f = 100 (x1^2 - x2)^2 + (1 - x1)^2 + 90 (x3^2 - x4)^2 + (1 - x3)^2
    + 10.1 ((x2 - 1)^2 + (x4 - 1)^2) + 19.8 (x2 - 1)(x4 - 1);  C = diag(-20 r1, 0, -2 sqrt(90) r3, 0).
    x0 = (-3, -1, -3, -1); minimizer (1, 1, 1, 1), f* = 0.
    """

    S90, S10 = math.sqrt(90.0), math.sqrt(10.0)

    def __init__(self, *, backend: str | Backend = "numpy", dtype: str = "float64"):
        super().__init__(
            [-3.0, -1.0, -3.0, -1.0], name="woods", backend=backend, dtype=dtype, f_star=0.0, x_star=[1.0] * 4
        )

    def residuals(self, x: Any) -> Any:
        x1, x2, x3, x4 = x[0], x[1], x[2], x[3]
        return self.xp.stack(
            [
                10.0 * (x2 - x1 * x1),
                1.0 - x1,
                self.S90 * (x4 - x3 * x3),
                1.0 - x3,
                self.S10 * (x2 + x4 - 2.0),
                (x2 - x4) / self.S10,
            ]
        )

    def jacobian(self, x: Any) -> Any:
        x1, x3 = x[0], x[2]
        s90, s10 = self.S90, self.S10
        rows = [
            [-20.0 * x1, 10.0, 0.0, 0.0],
            [-1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, -2.0 * s90 * x3, s90],
            [0.0, 0.0, -1.0, 0.0],
            [0.0, s10, 0.0, s10],
            [0.0, 1.0 / s10, 0.0, -1.0 / s10],
        ]
        return assemble(self.xp, x1, rows)

    def curvature(self, x: Any, r: Any) -> Any:
        c1, c3 = -20.0 * r[0], -2.0 * self.S90 * r[2]
        rows = [[c1, 0.0, 0.0, 0.0], [0.0] * 4, [0.0, 0.0, c3, 0.0], [0.0] * 4]
        return assemble(self.xp, x[0], rows)


def freudenstein_roth(*, backend: str | Backend = "numpy", dtype: str = "float64") -> FreudensteinRoth:
    """Freudenstein and Roth's function, MGH problem 2."""
    return FreudensteinRoth(backend=backend, dtype=dtype)


def brown_badly_scaled(*, backend: str | Backend = "numpy", dtype: str = "float64") -> BrownBadlyScaled:
    """Brown's badly scaled function, MGH problem 4."""
    return BrownBadlyScaled(backend=backend, dtype=dtype)


def beale(*, backend: str | Backend = "numpy", dtype: str = "float64") -> Beale:
    """Beale's function, MGH problem 5."""
    return Beale(backend=backend, dtype=dtype)


def helical_valley(*, backend: str | Backend = "numpy", dtype: str = "float64") -> HelicalValley:
    """The helical valley function, MGH problem 7."""
    return HelicalValley(backend=backend, dtype=dtype)


def woods(*, backend: str | Backend = "numpy", dtype: str = "float64") -> Woods:
    """Wood's function, MGH problem 14."""
    return Woods(backend=backend, dtype=dtype)
