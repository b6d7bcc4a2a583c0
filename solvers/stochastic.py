"""The stochastic family: one step per minibatch, x_{k+1} = x_k + update(∇f_B(x_k)).

Each iteration applies the rule to the gradient on the current minibatch B, moves the model to the
next minibatch, then evaluates f and ∇f at x_{k+1} on it (one ``objgrad`` per step). The history's f
and ‖∇f‖ are thus minibatch values, and budgets are usually given in epochs (``max_epochs``).

Gradient clipping (``clip=c``): the gradient is scaled by min(1, c/‖g‖) so its norm is at most c.
Knet.jl's ``gclip`` clips each parameter array separately; here the whole flat vector is clipped.
The rules are those of Knet.jl's ``update!`` (see each optimizer's module for the formula).
"""

from __future__ import annotations

from typing import Any

from minidnn.solvers.core import Batches, Budget, Solver
from minidnn.solvers.parameters import POSITIVE, optional, parameter


def clip_parameter() -> Any:
    """The ``clip`` field every stochastic solver declares."""
    return parameter(None, "bound on ‖g‖ (None: no clipping)", optional(POSITIVE))


class StochasticSolver(Solver):
    """Base of SGD, Momentum, Nesterov, Adagrad, RMSprop and Adam (subclasses define ``update``);
    their parameter records have ``lr`` and ``clip``."""

    family = "stochastic"
    step_label = "lr"
    state_scalars = ("t",)

    def __init__(self, nlp: Any, x: Any, batches: Batches, budget: Budget, params: Any):
        super().__init__(nlp, x, batches, budget, params)
        self.step = self.params.lr
        self.t = 0

    def iterate(self) -> str | None:
        self.t += 1
        x_next = self.update(self.x, self.clipped(self.g))
        self.batches.advance()
        self.f, self.g, self.grad_norm = self.evaluate(x_next)
        self.x = x_next
        return None

    def clipped(self, g: Any) -> Any:
        """g scaled to norm at most ``clip`` (the norm is the one already computed)."""
        clip = self.params.clip
        if clip is None or self.grad_norm <= clip:
            return g
        return g * (clip / self.grad_norm)

    def update(self, x: Any, g: Any) -> Any:
        """x_{k+1} from x_k and the (clipped) minibatch gradient; ``self.t`` counts steps from 1."""
        raise NotImplementedError
