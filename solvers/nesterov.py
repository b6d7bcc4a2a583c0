"""Nesterov's accelerated gradient in the momentum form of Bengio, Boulanger-Lewandowski and
Pascanu (2013, arXiv:1212.0901), as Knet.jl writes it:

    v' = γ v - lr g,    x ← x - γ v + (1 + γ) v',    v ← v'

Defaults lr = 0.05, γ = 0.95 (Knet.jl, ``Nesterov``).
"""

from __future__ import annotations

from typing import Any

from minidnn.solvers.driver import solver_function
from minidnn.solvers.momentum import Momentum


class Nesterov(Momentum):
    """Minimises ``nlp`` by Nesterov-accelerated SGD, one step per minibatch (the momentum solver's
    parameters and state, with Nesterov's look-ahead update)."""

    name = "nesterov"

    def update(self, x: Any, g: Any) -> Any:
        gamma, previous = self.params.gamma, self.velocity
        self.velocity = gamma * previous - self.params.lr * g
        return x - gamma * previous + (1.0 + gamma) * self.velocity


nesterov = solver_function(Nesterov)
