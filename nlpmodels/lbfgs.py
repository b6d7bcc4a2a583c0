"""The limited-memory BFGS model: ``hprod`` is B v for the L-BFGS matrix B of the pairs it was given
(:class:`~minidnn.nlpmodels.lbfgs_operator.LBFGSOperator`), ``inverse_hprod`` is B^-1 v by the
two-loop recursion. It learns from accepted steps only (``learns_from = "accepted_steps"``).

Skip rule: s'y > sqrt(eps) ||s|| ||y||; scaling: B0 = (y'y / s'y) I from the newest pair
(:mod:`~minidnn.nlpmodels.secant_rules`). See :mod:`~minidnn.nlpmodels.quasi_newton` for the rest.
"""

from __future__ import annotations

from typing import Any

from minidnn.nlpmodels.lbfgs_operator import LBFGSOperator
from minidnn.nlpmodels.model import _into
from minidnn.nlpmodels.operator import symmetric_operator
from minidnn.nlpmodels.quasi_newton import QuasiNewtonModel


class LBFGSModel(QuasiNewtonModel):
    """A model whose ``hprod`` is the L-BFGS matrix (see the module docstring)."""

    operator_class = LBFGSOperator
    learns_from = "accepted_steps"
    operator: LBFGSOperator

    def inverse_hprod(self, v: Any, out: Any = None) -> Any:
        """H v = B^-1 v by the two-loop recursion (not counted: it evaluates nothing)."""
        self.check_vector("v", v)
        if out is not None:
            self.check_vector("out", out)
        return _into(out, self.operator.solve(v))

    def inverse_op(self) -> Any:
        """v -> B^-1 v as a linear operator of the current memory (SciPy's on NumPy)."""
        meta = self.meta
        return symmetric_operator(meta.backend, meta.nvar, meta.x0.dtype, self.inverse_hprod)
