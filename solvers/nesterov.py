"""Nesterov's accelerated gradient in the momentum form of Bengio, Boulanger-Lewandowski and
Pascanu (2013, arXiv:1212.0901), as Knet.jl writes it:

    v' = γ v - lr g,    x ← x - γ v + (1 + γ) v',    v ← v'

Defaults lr = 0.05, γ = 0.95 (Knet.jl, ``Nesterov``).
"""

from __future__ import annotations

from typing import Any

from minidnn.solvers.driver import run
from minidnn.solvers.momentum import Momentum
from minidnn.solvers.stats import ExecutionStats


class Nesterov(Momentum):
    """The momentum solver's state and checks, with Nesterov's look-ahead update."""

    name = "nesterov"

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
