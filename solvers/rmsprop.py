"""RMSprop (Tieleman and Hinton 2012, Coursera lecture 6.5), as Knet.jl writes it:

    G ← ρ G + (1 - ρ) g²,    x ← x - lr g / sqrt(G + eps)

Defaults lr = 0.01, ρ = 0.9, eps = 1e-6 (Knet.jl, ``Rmsprop``).
"""

from __future__ import annotations

from typing import Any

from minidnn.solvers import checks
from minidnn.solvers.batches import Batches
from minidnn.solvers.driver import run
from minidnn.solvers.stats import ExecutionStats
from minidnn.solvers.stochastic import StochasticSolver
from minidnn.solvers.stopping import Budget


class RMSprop(StochasticSolver):
    name = "rmsprop"

    def __init__(
        self,
        nlp: Any,
        x: Any,
        batches: Batches,
        budget: Budget,
        *,
        lr: float,
        rho: float,
        eps: float,
        clip: float | None,
    ):
        super().__init__(nlp, x, batches, budget, lr=lr, clip=clip)
        self.rho = checks.in_range(self.name, "rho", rho, 0.0, 1.0)
        self.eps = checks.positive(self.name, "eps", eps)
        self.mean_squares = self.xp.zeros_like(x)

    def update(self, x: Any, g: Any) -> Any:
        self.mean_squares = self.rho * self.mean_squares + (1.0 - self.rho) * (g * g)
        return x - self.lr * g / self.xp.sqrt(self.mean_squares + self.eps)


def rmsprop(
    nlp: Any,
    x0: Any = None,
    *,
    lr: float = 0.01,  # Knet.jl Rmsprop: lr = 0.01
    rho: float = 0.9,  # Knet.jl Rmsprop: rho = 0.9
    eps: float = 1e-6,  # Knet.jl Rmsprop: eps = 1e-6
    clip: float | None = None,
    **options: Any,
) -> ExecutionStats:
    """Minimises ``nlp`` by RMSprop, one step per minibatch.

    lr: step length (0.01), rho: decay of the mean of squares in [0, 1) (0.9), eps: regulariser
    (1e-6), all Knet.jl's defaults; clip: bound on ‖g‖ (None: no clipping).
    See :mod:`solvers.options` for ``options``.
    """
    return run(RMSprop, nlp, x0, {"lr": lr, "rho": rho, "eps": eps, "clip": clip}, options)
