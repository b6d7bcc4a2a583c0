"""Nesterov's accelerated gradient in the momentum form of Bengio, Boulanger-Lewandowski and
Pascanu (2013, arXiv:1212.0901), as Knet.jl writes it:

    v' = γ v - lr g,    x ← x - γ v + (1 + γ) v',    v ← v'

Defaults lr = 0.05, γ = 0.95 (Knet.jl, ``Nesterov``).
"""

from __future__ import annotations

from typing import Any

from solvers import checks
from solvers.batches import Batches
from solvers.driver import run
from solvers.stats import ExecutionStats
from solvers.stochastic import StochasticSolver
from solvers.stopping import Budget


class Nesterov(StochasticSolver):
    name = "nesterov"

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
        previous = self.velocity
        self.velocity = self.gamma * previous - self.lr * g
        return x - self.gamma * previous + (1.0 + self.gamma) * self.velocity


def nesterov(
    nlp: Any,
    x0: Any = None,
    *,
    lr: float = 0.05,  # Knet.jl Nesterov: lr = 0.05
    gamma: float = 0.95,  # Knet.jl Nesterov: gamma = 0.95
    clip: float | None = None,
    **options: Any,
) -> ExecutionStats:
    """Minimises ``nlp`` by Nesterov-accelerated SGD, one step per minibatch.

    lr: step length (0.05), gamma: momentum in [0, 1) (0.95), both Knet.jl's defaults;
    clip: bound on ‖g‖ (None: no clipping). See :mod:`solvers.options` for ``options``.
    """
    return run(Nesterov, nlp, x0, {"lr": lr, "gamma": gamma, "clip": clip}, options)
