"""Heavy-ball momentum (Polyak 1964; Qian 1999), in Knet.jl's form:

    v ← γ v - lr g,    x ← x + v

Defaults lr = 0.05, γ = 0.95 (Knet.jl, ``Momentum``).
"""

from __future__ import annotations

from typing import Any

from minidnn.solvers.core import Batches, Budget
from minidnn.solvers.driver import solver_function
from minidnn.solvers.parameters import FRACTION, POSITIVE, declared, parameter
from minidnn.solvers.stochastic import StochasticSolver, clip_parameter


@declared
class MomentumParameters:
    """The parameters of momentum and Nesterov (Knet.jl gives both the same defaults)."""

    lr: float = parameter(0.05, "step length", POSITIVE, source="Knet.jl Momentum, Nesterov: lr = 0.05")
    gamma: float = parameter(0.95, "momentum", FRACTION, source="Knet.jl Momentum, Nesterov: gamma = 0.95")
    clip: float | None = clip_parameter()


class Momentum(StochasticSolver):
    """Minimises ``nlp`` by SGD with heavy-ball momentum, one step per minibatch."""

    name = "momentum"
    parameters = MomentumParameters
    state_arrays = ("velocity",)

    def __init__(self, nlp: Any, x: Any, batches: Batches, budget: Budget, params: Any):
        super().__init__(nlp, x, batches, budget, params)
        self.velocity = self.xp.zeros_like(self.x)

    def advance(self, x: Any, g: Any) -> None:
        self.velocity *= self.params.gamma
        self.velocity -= self.scaled(self.scratch, g, self.params.lr)
        x += self.velocity


momentum = solver_function(Momentum)
