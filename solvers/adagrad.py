"""Adagrad (Duchi, Hazan and Singer 2011), as Knet.jl writes it:

    G ← G + g²,    x ← x - lr g / sqrt(G + eps)

Defaults lr = 0.05, eps = 1e-6 (Knet.jl, ``Adagrad``).
"""

from __future__ import annotations

from typing import Any

from minidnn.solvers.core import Batches, Budget
from minidnn.solvers.driver import solver_function
from minidnn.solvers.parameters import POSITIVE, declared, parameter
from minidnn.solvers.stochastic import StochasticSolver, clip_parameter


@declared
class AdagradParameters:
    """Adagrad's parameters."""

    lr: float = parameter(0.05, "step length", POSITIVE, source="Knet.jl Adagrad: lr = 0.05")
    eps: float = parameter(
        1e-6, "regulariser of the denominator", POSITIVE, source="Knet.jl Adagrad: eps = 1e-6"
    )
    clip: float | None = clip_parameter()


class Adagrad(StochasticSolver):
    """Minimises ``nlp`` by Adagrad, one step per minibatch."""

    name = "adagrad"
    parameters = AdagradParameters
    state_arrays = ("sum_squares",)

    def __init__(self, nlp: Any, x: Any, batches: Batches, budget: Budget, params: Any):
        super().__init__(nlp, x, batches, budget, params)
        self.sum_squares = self.xp.zeros_like(self.x)

    def advance(self, x: Any, g: Any) -> None:
        self.sum_squares += self.squared(self.scratch, g)
        x -= self.scaled_by_root(self.scratch, self.params.lr, g, self.sum_squares, self.params.eps)


adagrad = solver_function(Adagrad)
