"""The stochastic family: one step per minibatch, x_{k+1} = x_k + update(∇f_B(x_k)).

Each iteration applies the rule to the gradient on the current minibatch B, moves the model to the
next minibatch, then evaluates f and ∇f at x_{k+1} on it (one ``objgrad`` per step). The history's f
and ‖∇f‖ are thus minibatch values, and budgets are usually given in epochs (``max_epochs``).

The rules update their state and the iterate in place (``advance``), with one spare array for the
temporaries: a step allocates nothing as large as x. The new iterate is written into a second
vector, and the two swap once f and ∇f at the new point are known to be finite, so a non-finite
value leaves the last good iterate as the solution.

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
        self.x_next = self.xp.zeros_like(x)
        self.scratch = self.xp.zeros_like(x)
        self.g_clipped = self.xp.zeros_like(x) if self.params.clip is not None else None

    def iterate(self) -> str | None:
        self.t += 1
        x_next = self.x_next
        x_next[...] = self.x
        self.advance(x_next, self.clipped(self.g))
        self.batches.advance()
        self.f, self.g, self.grad_norm = self.evaluate(x_next)
        self.x_next, self.x = self.x, x_next
        return None

    def clipped(self, g: Any) -> Any:
        """g scaled to norm at most ``clip`` (the norm is the one already computed), in a buffer of
        its own: the model's g stays the gradient."""
        clip = self.params.clip
        if clip is None or self.grad_norm <= clip:
            return g
        self.g_clipped[...] = g
        self.g_clipped *= clip / self.grad_norm
        return self.g_clipped

    def advance(self, x: Any, g: Any) -> None:
        """x ← x_{k+1}, in place, from x = x_k and the (clipped) minibatch gradient g, updating the
        method's state in place; ``self.t`` counts steps from 1, ``self.scratch`` is free to use."""
        raise NotImplementedError

    # -- in-place vector operations for the rules (one pass each through the backend's ``out=``) ----
    def scaled(self, out: Any, a: Any, factor: float) -> Any:
        """out ← factor·a; returns out."""
        return self.backend.apply_into("multiply", out, a, factor)

    def squared(self, out: Any, a: Any) -> Any:
        """out ← a² (elementwise); returns out."""
        return self.backend.apply_into("multiply", out, a, a)

    def moving_average(self, average: Any, decay: float, a: Any, scratch: Any) -> None:
        """average ← decay·average + (1 - decay)·a, in place (``a`` may be ``scratch``)."""
        average *= decay
        average += self.scaled(scratch, a, 1.0 - decay)

    def reciprocal_root(self, out: Any, inside: float = 0.0, outside: float = 0.0) -> Any:
        """out ← 1 / (sqrt(out + inside) + outside), in place; returns out."""
        if inside:
            out += inside
        self.backend.apply_into("sqrt", out, out)
        if outside:
            out += outside
        return self.backend.apply_into("divide", out, 1.0, out)

    def scaled_by_root(self, out: Any, lr: float, g: Any, squares: Any, eps: float) -> Any:
        """out ← lr·g / sqrt(squares + eps) (``out`` is neither g nor squares); returns out."""
        out[...] = squares
        self.reciprocal_root(out, inside=eps)
        out *= g
        out *= lr
        return out
