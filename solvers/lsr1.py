"""lsr1: the trust-region method of :mod:`solvers.trunk` on a limited-memory SR1 model of the
Hessian (JSOSolvers.jl's ``trunk`` on an ``LSR1Model``, as in the KnetNLPModels tutorials).

The model ``nlpmodels.LSR1Model(nlp, mem, scaling)`` replaces the Hessian-vector products; it learns
from every trial step (s, ∇f(x + s) - ∇f(x)), accepted or not (its ``learns_from``), both gradients
from the same minibatch. SR1 matrices may be indefinite, which the Steihaug-Toint inner solver
handles by stopping on the boundary.
"""

from __future__ import annotations

from typing import Any

from minidnn.nlpmodels import LSR1Model
from minidnn.solvers import checks
from minidnn.solvers.driver import run
from minidnn.solvers.stats import ExecutionStats
from minidnn.solvers.trunk import Trunk


class LSR1(Trunk):
    name = "lsr1"


def lsr1(
    nlp: Any,
    x0: Any = None,
    *,
    mem: int = 5,  # as nlpmodels.LSR1Model and JSOSolvers.jl lbfgs: mem = 5
    scaling: bool = True,
    cg_max_iter: int | None = None,
    bk_max: int = 10,  # JSOSolvers.jl trunk: bk_max = 10
    **options: Any,
) -> ExecutionStats:
    """Minimises ``nlp`` by trust region on an L-SR1 model of its Hessian.

    mem: pairs kept (5), scaling: B0 = (y'y / s'y) I (True), as ``nlpmodels.LSR1Model``; cg_max_iter
    and bk_max as :func:`solvers.trunk`. See :mod:`solvers.options` for ``options``.
    """
    model = LSR1Model(nlp, mem=checks.positive_int("lsr1", "mem", mem), scaling=bool(scaling))
    return run(LSR1, model, x0, {"cg_max_iter": cg_max_iter, "bk_max": bk_max}, options)
