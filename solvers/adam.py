"""Adam (Kingma and Ba 2015, arXiv:1412.6980), as Knet.jl writes it (t counts steps from 1):

    m ← β1 m + (1 - β1) g,    v ← β2 v + (1 - β2) g²
    x ← x - lr m̂ / (sqrt(v̂) + eps),    m̂ = m / (1 - β1^t),  v̂ = v / (1 - β2^t)

Defaults lr = 1e-3, (β1, β2) = (0.9, 0.999), eps = 1e-8 (Knet.jl, ``Adam``).
"""

from __future__ import annotations

from typing import Any

from minidnn.solvers import checks
from minidnn.solvers.batches import Batches
from minidnn.solvers.driver import run
from minidnn.solvers.stats import ExecutionStats
from minidnn.solvers.stochastic import StochasticSolver
from minidnn.solvers.stopping import Budget


class Adam(StochasticSolver):
    name = "adam"

    def __init__(
        self,
        nlp: Any,
        x: Any,
        batches: Batches,
        budget: Budget,
        *,
        lr: float,
        betas: tuple[float, float],
        eps: float,
        clip: float | None,
    ):
        super().__init__(nlp, x, batches, budget, lr=lr, clip=clip)
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"adam: betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1 = checks.in_range(self.name, "betas[0]", betas[0], 0.0, 1.0)
        self.beta2 = checks.in_range(self.name, "betas[1]", betas[1], 0.0, 1.0)
        self.eps = checks.positive(self.name, "eps", eps)
        self.first = self.xp.zeros_like(x)
        self.second = self.xp.zeros_like(x)

    def update(self, x: Any, g: Any) -> Any:
        self.first = self.beta1 * self.first + (1.0 - self.beta1) * g
        self.second = self.beta2 * self.second + (1.0 - self.beta2) * (g * g)
        first_hat = self.first / (1.0 - self.beta1**self.t)
        second_hat = self.second / (1.0 - self.beta2**self.t)
        return x - self.lr * first_hat / (self.xp.sqrt(second_hat) + self.eps)


def adam(
    nlp: Any,
    x0: Any = None,
    *,
    lr: float = 1e-3,  # Knet.jl Adam: lr = 0.001
    betas: tuple[float, float] = (0.9, 0.999),  # Knet.jl Adam: beta1 = 0.9, beta2 = 0.999
    eps: float = 1e-8,  # Knet.jl Adam: eps = 1e-8
    clip: float | None = None,
    **options: Any,
) -> ExecutionStats:
    """Minimises ``nlp`` by Adam, one step per minibatch.

    lr: step length (1e-3), betas: decays of the first and second moments (0.9, 0.999), eps:
    regulariser (1e-8), all Knet.jl's defaults; clip: bound on ‖g‖ (None: no clipping).
    See :mod:`solvers.options` for ``options``.
    """
    return run(Adam, nlp, x0, {"lr": lr, "betas": betas, "eps": eps, "clip": clip}, options)
