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

    def advance(self, x: Any, g: Any) -> None:
        gamma, v = self.params.gamma, self.velocity
        x -= self.scaled(self.scratch, v, gamma)
        v *= gamma
        v -= self.scaled(self.scratch, g, self.params.lr)
        x += self.scaled(self.scratch, v, 1.0 + gamma)


nesterov = solver_function(Nesterov)
