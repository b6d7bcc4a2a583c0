"""RMSprop (Tieleman and Hinton 2012, Coursera lecture 6.5), as Knet.jl writes it:

    G ← ρ G + (1 - ρ) g²,    x ← x - lr g / sqrt(G + eps)

Defaults lr = 0.01, ρ = 0.9, eps = 1e-6 (Knet.jl, ``Rmsprop``).
"""

from __future__ import annotations

from typing import Any

from minidnn.solvers.core import Batches, Budget
from minidnn.solvers.driver import solver_function
from minidnn.solvers.parameters import FRACTION, POSITIVE, declared, parameter
from minidnn.solvers.stochastic import StochasticSolver, clip_parameter


@declared
class RMSpropParameters:
    """RMSprop's parameters."""

    lr: float = parameter(0.01, "step length", POSITIVE, source="Knet.jl Rmsprop: lr = 0.01")
    rho: float = parameter(0.9, "decay of the mean of squares", FRACTION, source="Knet.jl Rmsprop: rho = 0.9")
    eps: float = parameter(
        1e-6, "regulariser of the denominator", POSITIVE, source="Knet.jl Rmsprop: eps = 1e-6"
    )
    clip: float | None = clip_parameter()


class RMSprop(StochasticSolver):
    """Minimises ``nlp`` by RMSprop, one step per minibatch."""

    name = "rmsprop"
    parameters = RMSpropParameters
    state_arrays = ("mean_squares",)

    def __init__(self, nlp: Any, x: Any, batches: Batches, budget: Budget, params: Any):
        super().__init__(nlp, x, batches, budget, params)
        self.mean_squares = self.xp.zeros_like(self.x)

    def advance(self, x: Any, g: Any) -> None:
        self.moving_average(self.mean_squares, self.params.rho, self.squared(self.scratch, g), self.scratch)
        x -= self.scaled_by_root(self.scratch, self.params.lr, g, self.mean_squares, self.params.eps)


rmsprop = solver_function(RMSprop)
