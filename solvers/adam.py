"""Adam (Kingma and Ba 2015, arXiv:1412.6980), as Knet.jl writes it (t counts steps from 1):

    m ← β1 m + (1 - β1) g,    v ← β2 v + (1 - β2) g²
    x ← x - lr m̂ / (sqrt(v̂) + eps),    m̂ = m / (1 - β1^t),  v̂ = v / (1 - β2^t)

Defaults lr = 1e-3, (β1, β2) = (0.9, 0.999), eps = 1e-8 (Knet.jl, ``Adam``).
"""

from __future__ import annotations

from typing import Any

from minidnn.solvers.core import Batches, Budget
from minidnn.solvers.driver import solver_function
from minidnn.solvers.parameters import FRACTION, POSITIVE, Pair, declared, parameter
from minidnn.solvers.stochastic import StochasticSolver, clip_parameter


@declared
class AdamParameters:
    """Adam's parameters."""

    lr: float = parameter(1e-3, "step length", POSITIVE, source="Knet.jl Adam: lr = 0.001")
    betas: tuple[float, float] = parameter(
        (0.9, 0.999),
        "decays (β1, β2) of the first and second moments",
        Pair(FRACTION),
        source="Knet.jl Adam: beta1 = 0.9, beta2 = 0.999",
    )
    eps: float = parameter(
        1e-8, "regulariser of the denominator", POSITIVE, source="Knet.jl Adam: eps = 1e-8"
    )
    clip: float | None = clip_parameter()


class Adam(StochasticSolver):
    """Minimises ``nlp`` by Adam, one step per minibatch."""

    name = "adam"
    parameters = AdamParameters
    state_arrays = ("first", "second")

    def __init__(self, nlp: Any, x: Any, batches: Batches, budget: Budget, params: Any):
        super().__init__(nlp, x, batches, budget, params)
        self.first = self.xp.zeros_like(self.x)
        self.second = self.xp.zeros_like(self.x)

    def advance(self, x: Any, g: Any) -> None:
        (beta1, beta2), t, s = self.params.betas, self.t, self.scratch
        self.moving_average(self.first, beta1, g, s)
        self.moving_average(self.second, beta2, self.squared(s, g), s)
        self.reciprocal_root(self.scaled(s, self.second, 1.0 / (1.0 - beta2**t)), outside=self.params.eps)
        s *= self.first
        s *= self.params.lr / (1.0 - beta1**t)
        x -= s  # x - lr m̂ / (sqrt(v̂) + eps)


adam = solver_function(Adam)
