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
from minidnn.solvers.driver import solver_function
from minidnn.solvers.parameters import Boolean, Integer, declared, parameter
from minidnn.solvers.trunk import Trunk, TrunkParameters


@declared
class LSR1Parameters(TrunkParameters):
    """trunk's parameters, and the memory of the L-SR1 model."""

    mem: int = parameter(
        5, "pairs kept", Integer(1), source="nlpmodels.LSR1Model, as JSOSolvers.jl lbfgs: mem = 5"
    )
    scaling: bool = parameter(
        True, "B0 = (yᵀy / sᵀy) I from the newest pair", Boolean(), source="nlpmodels.LSR1Model"
    )


class LSR1(Trunk):
    """Minimises ``nlp`` by trust region on an L-SR1 model of its Hessian."""

    name = "lsr1"
    parameters = LSR1Parameters

    @classmethod
    def model(cls, nlp: Any, params: LSR1Parameters) -> Any:
        return LSR1Model(nlp, mem=params.mem, scaling=params.scaling)


lsr1 = solver_function(LSR1)
