"""The limited-memory SR1 model: ``hprod`` is B v for the L-SR1 matrix B of the pairs it was given
(:class:`~minidnn.nlpmodels.lsr1_operator.LSR1Operator`; B may be indefinite). It learns from every
trial step of a trust-region method, accepted or not (``learns_from = "every_trial"``, Nocedal &
Wright 2006, Algorithm 6.2).

Skip rule: |s'(y - B s)| >= 1e-8 ||s|| ||y - B s|| and s'(y - B s) != 0 (Nocedal & Wright eq. (6.26));
scaling: B0 = (y'y / s'y) I from the newest pair with safely positive curvature
(:mod:`~minidnn.nlpmodels.secant_rules`). See :mod:`~minidnn.nlpmodels.quasi_newton` for the rest.
"""

from __future__ import annotations

from minidnn.nlpmodels.lsr1_operator import LSR1Operator
from minidnn.nlpmodels.quasi_newton import QuasiNewtonModel


class LSR1Model(QuasiNewtonModel):
    """A model whose ``hprod`` is the limited-memory SR1 matrix (see the module docstring)."""

    operator_class = LSR1Operator
    learns_from = "every_trial"
