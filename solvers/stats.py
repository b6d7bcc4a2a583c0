"""What a solver run returns: :class:`ExecutionStats`, with the fixed set of statuses.

The statuses and their meaning follow SolverCore.jl's ``GenericExecutionStats`` (Julia Smooth
Optimizers), with ``max_epochs`` added for minibatch models. ``unknown`` is the status while a run
is in progress; a callback that sets any other status (``"user"`` by convention) stops the run.
"""

from __future__ import annotations

import math
from typing import Any

from minidnn.solvers.history import History

STATUSES: dict[str, str] = {
    "first_order": "first-order stationary point: the gradient norm is below the tolerance",
    "max_eval": "the budget of objective evaluations is spent",
    "max_iter": "the budget of iterations is spent",
    "max_time": "the time budget is spent",
    "max_epochs": "the budget of epochs is spent",
    "user": "stopped by the user (callback or interrupt)",
    "exception": "a non-finite objective or gradient was met",
    "not_desc": "the search direction is not a descent direction",
    "neg_pred": "the model predicts no decrease",
    "small_step": "the step is too small to change the iterate",
    "stalled": "the iterate stalled",
    "unbounded": "the objective appears unbounded below",
}
"""Every final status, with a one-line explanation."""

UNKNOWN = "unknown"


class ExecutionStats:
    """The outcome of a solver run.

    Attributes: ``status`` (a key of :data:`STATUSES`, or ``"unknown"`` while running), ``message``,
    ``solution`` (a vector on the model's device), ``objective`` f(solution), ``dual_feas``
    ‖∇f(solution)‖, ``iter``, ``elapsed_time`` (seconds), ``counters`` (evaluations made by this
    run), ``solver_specific`` (a dict), and ``history`` (one row per iteration, see :class:`History`).
    """

    def __init__(self, solver: str, history: History):
        self.solver = solver
        self._status = UNKNOWN
        self.message = ""
        self.solution: Any = None
        self.objective = math.nan
        self.dual_feas = math.nan
        self.iter = 0
        self.elapsed_time = 0.0
        self.counters: dict[str, int] = {}
        self.solver_specific: dict[str, Any] = {}
        self.history = history

    @property
    def status(self) -> str:
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        if value != UNKNOWN and value not in STATUSES:
            raise ValueError(f"unknown status {value!r}; valid statuses: {', '.join(STATUSES)}")
        self._status = value

    @property
    def done(self) -> bool:
        """True once a final status is set."""
        return self._status != UNKNOWN

    def __repr__(self) -> str:
        return (
            f"ExecutionStats(solver={self.solver!r}, status={self.status!r}, objective={self.objective:.6e}, "
            f"dual_feas={self.dual_feas:.3e}, iter={self.iter}, elapsed_time={self.elapsed_time:.3f})"
        )

    def __str__(self) -> str:
        lines = [
            f"Execution stats of {self.solver}: {self.status}",
            f"  {self.message or STATUSES.get(self.status, 'in progress')}",
            f"  objective {self.objective:.6e}   |grad| {self.dual_feas:.3e}",
            f"  iterations {self.iter}   time {self.elapsed_time:.3f} s   counters {self.counters}",
        ]
        return "\n".join(lines)
