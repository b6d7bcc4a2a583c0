"""IterateAverage: an exponentially weighted average of a solver's iterates (the driver's ``average``
option).

A stochastic method's iterate x_k moves around the minimum as far as the gradient noise and the
step size let it; averaging the iterates cancels much of that motion (Ruppert 1988; Polyak and
Juditsky, "Acceleration of stochastic approximation by averaging", SIAM J. Control Optim. 30(4),
1992). The running mean of all iterates keeps the early, poor ones for ever; an exponential average
with decay β forgets them, its weight on x_i proportional to β^(k-i):

    x̄_k = Σ_{i=1..k} β^(k-i) x_i / Σ_{i=1..k} β^(k-i),

the bias-corrected exponential moving average (Kingma and Ba 2015, §3, correct the same sum for
Adam's moments). It is updated in place without the sums, as

    x̄_k = x̄_{k-1} + w_k (x_k - x̄_{k-1}),    w_k = (1 - β) / (1 - β^k),

which gives x̄_1 = x_1 (w_1 = 1); β = 0 gives the last iterate. It spans about 1/(1 - β) iterations:
50 for β = 0.98. The average is only reported and evaluated, never fed back into the method, so
the iterates are those of the run without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minidnn.solvers.core import StateError, checked_scalar, state_array

from minidnn.backend import Backend

OWNER = "average"


class IterateAverage:
    """x̄_k, the average of the ``count`` iterates seen, with decay ``decay`` (see the module docstring)."""

    def __init__(self, decay: float, like: Any, backend: Backend):
        self.decay = decay
        self.backend = backend
        self.point = backend.xp.zeros_like(like)
        self.change = backend.xp.empty_like(like)
        self.count = 0

    def weight(self) -> float:
        """w_k = (1 - β) / (1 - β^k) of the next iterate, k = count + 1."""
        return (1.0 - self.decay) / (1.0 - self.decay ** (self.count + 1))

    def update(self, x: Any) -> None:
        """x̄ ← x̄ + w (x - x̄), in place (no allocation)."""
        w = self.weight()
        self.backend.apply_into("subtract", self.change, x, self.point)
        self.change *= w
        self.point += self.change
        self.count += 1

    def state(self) -> dict[str, Any]:
        """The average and the number of iterates it holds (the vector is the average's own)."""
        return {"point": self.point, "count": self.count}

    def restore(self, state: Mapping[str, Any] | None) -> None:
        """Takes back :meth:`state`'s dict; a StateError naming the entry that does not fit, before
        anything changes."""
        if not isinstance(state, Mapping):
            raise StateError(f"{OWNER}: the state has no 'average' mapping (the run was not averaged)")
        count = checked_scalar(OWNER, state, "count", 0)
        point = state_array(self.backend, OWNER, state, "point", self.point)
        self.point, self.count = point, count
