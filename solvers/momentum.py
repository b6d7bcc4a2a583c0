"""Heavy-ball momentum (Polyak 1964; Qian 1999), in Knet.jl's form:

    v ← γ v - lr g,    x ← x + v

Defaults lr = 0.05, γ = 0.95 (Knet.jl, ``Momentum``).
"""

from __future__ import annotations

from typing import Any

from minidnn.solvers import checks
from minidnn.solvers.batches import Batches
from minidnn.solvers.driver import run
from minidnn.solvers.stats import ExecutionStats
from minidnn.solvers.stochastic import StochasticSolver
from minidnn.solvers.stopping import Budget


class Momentum(StochasticSolver):
    name = "momentum"

    def __init__(
        self,
        nlp: Any,
        x: Any,
        batches: Batches,
        budget: Budget,
        *,
        lr: float,
        gamma: float,
        clip: float | None,
    ):
        super().__init__(nlp, x, batches, budget, lr=lr, clip=clip)
        self.gamma = checks.in_range(self.name, "gamma", gamma, 0.0, 1.0)
        self.velocity = self.xp.zeros_like(x)

    def update(self, x: Any, g: Any) -> Any:
        self.velocity = self.gamma * self.velocity - self.lr * g
        return x + self.velocity


def momentum(
    nlp: Any,
    x0: Any = None,
    *,
    lr: float = 0.05,  # Knet.jl Momentum: lr = 0.05
    gamma: float = 0.95,  # Knet.jl Momentum: gamma = 0.95
    clip: float | None = None,
    **options: Any,
) -> ExecutionStats:
    """Minimises ``nlp`` by SGD with heavy-ball momentum, one step per minibatch.

    lr: step length (0.05), gamma: momentum in [0, 1) (0.95), both Knet.jl's defaults;
    clip: bound on ‖g‖ (None: no clipping). See :mod:`solvers.options` for ``options``.
    """
    return run(Momentum, nlp, x0, {"lr": lr, "gamma": gamma, "clip": clip}, options)
