"""Small nonlinear least-squares problems f(x) = sum_i r_i(x)^2, the form of the MGH test set.

With J the Jacobian of the residual vector r and C(x) = sum_i r_i(x) Hess r_i(x),

    grad f = 2 J' r          Hess f v = 2 (J' (J v) + C v).

Subclasses give ``residuals(x)`` (m,), ``jacobian(x)`` (m, n) and ``curvature(x, r)`` (n, n) as small
dense device arrays; :func:`assemble` builds them from scalar expressions and constants.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minidnn.nlpmodels.problems.base import ClassicProblem


def assemble(xp: Any, like: Any, rows: Sequence[Sequence[Any]]) -> Any:
    """A dense (len(rows), len(row)) array from 0-d arrays and Python numbers, shaped like ``like``'s
    dtype and device (``like`` is any 0-d array of the model)."""
    return xp.stack(
        [xp.stack([e if hasattr(e, "dtype") else xp.full_like(like, e) for e in row]) for row in rows]
    )


class LeastSquaresProblem(ClassicProblem):
    """f(x) = ||r(x)||^2 with the derivatives of the module docstring."""

    def residuals(self, x: Any) -> Any:
        raise NotImplementedError

    def jacobian(self, x: Any) -> Any:
        raise NotImplementedError

    def curvature(self, x: Any, r: Any) -> Any:
        """sum_i r_i Hess r_i(x), an (n, n) array."""
        raise NotImplementedError

    def _obj(self, x: Any) -> float:
        r = self.residuals(x)
        return self._scalar(r @ r)

    def _grad(self, x: Any) -> Any:
        return 2.0 * (self.residuals(x) @ self.jacobian(x))

    def _objgrad(self, x: Any) -> tuple[float, Any]:
        r = self.residuals(x)
        return self._scalar(r @ r), 2.0 * (r @ self.jacobian(x))

    def _hprod(self, x: Any, v: Any) -> Any:
        jac = self.jacobian(x)
        return 2.0 * ((jac @ v) @ jac + self.curvature(x, self.residuals(x)) @ v)
