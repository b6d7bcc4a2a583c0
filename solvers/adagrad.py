"""Adagrad (Duchi, Hazan and Singer 2011), as Knet.jl writes it:

    G ← G + g²,    x ← x - lr g / sqrt(G + eps)

Defaults lr = 0.05, eps = 1e-6 (Knet.jl, ``Adagrad``).
"""

from __future__ import annotations

from typing import Any

from minidnn.solvers import checks
from minidnn.solvers.batches import Batches
from minidnn.solvers.driver import run
from minidnn.solvers.stats import ExecutionStats
from minidnn.solvers.stochastic import StochasticSolver
from minidnn.solvers.stopping import Budget


class Adagrad(StochasticSolver):
    name = "adagrad"

    def __init__(
        self, nlp: Any, x: Any, batches: Batches, budget: Budget, *, lr: float, eps: float, clip: float | None
    ):
        super().__init__(nlp, x, batches, budget, lr=lr, clip=clip)
        self.eps = checks.positive(self.name, "eps", eps)
        self.sum_squares = self.xp.zeros_like(x)

    def update(self, x: Any, g: Any) -> Any:
        self.sum_squares = self.sum_squares + g * g
        return x - self.lr * g / self.xp.sqrt(self.sum_squares + self.eps)


def adagrad(
    nlp: Any,
    x0: Any = None,
    *,
    lr: float = 0.05,  # Knet.jl Adagrad: lr = 0.05
    eps: float = 1e-6,  # Knet.jl Adagrad: eps = 1e-6
    clip: float | None = None,
    **options: Any,
) -> ExecutionStats:
    """Minimises ``nlp`` by Adagrad, one step per minibatch.

    lr: step length (0.05), eps: regulariser of the denominator (1e-6), both Knet.jl's defaults;
    clip: bound on ‖g‖ (None: no clipping). See :mod:`solvers.options` for ``options``.
    """
    return run(Adagrad, nlp, x0, {"lr": lr, "eps": eps, "clip": clip}, options)
