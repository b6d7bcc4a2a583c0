"""Stochastic gradient descent: x ← x - lr g.

Default lr = 0.1 (Knet.jl, ``SGD``).
"""

from __future__ import annotations

from typing import Any

from minidnn.solvers.driver import solver_function
from minidnn.solvers.parameters import POSITIVE, declared, parameter
from minidnn.solvers.stochastic import StochasticSolver, clip_parameter


@declared
class SGDParameters:
    """SGD's parameters."""

    lr: float = parameter(0.1, "step length", POSITIVE, source="Knet.jl SGD: lr = 0.1")
    clip: float | None = clip_parameter()


class SGD(StochasticSolver):
    """Minimises ``nlp`` by SGD, one step per minibatch."""

    name = "sgd"
    parameters = SGDParameters

    def advance(self, x: Any, g: Any) -> None:
        x -= self.scaled(self.scratch, g, self.params.lr)


sgd = solver_function(SGD)
