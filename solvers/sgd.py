"""Stochastic gradient descent: x ← x - lr g.

Default lr = 0.1 (Knet.jl, ``SGD``).
"""

from __future__ import annotations

from typing import Any

from minidnn.solvers.driver import run
from minidnn.solvers.stats import ExecutionStats
from minidnn.solvers.stochastic import StochasticSolver


class SGD(StochasticSolver):
    name = "sgd"

    def update(self, x: Any, g: Any) -> Any:
        return x - self.lr * g


def sgd(
    nlp: Any,
    x0: Any = None,
    *,
    lr: float = 0.1,  # Knet.jl SGD: lr = 0.1
    clip: float | None = None,
    **options: Any,
) -> ExecutionStats:
    """Minimises ``nlp`` by SGD, one step per minibatch (see :mod:`solvers.options` for ``options``).

    lr: step length (0.1, Knet.jl's default); clip: bound on ‖g‖ (None: no clipping).
    """
    return run(SGD, nlp, x0, {"lr": lr, "clip": clip}, options)
