"""What a solver run returns: :class:`ExecutionStats`, with the fixed set of statuses and the
per-iteration :class:`History`.

The statuses and their meaning follow SolverCore.jl's ``GenericExecutionStats`` (Julia Smooth
Optimizers), with ``max_epochs`` added for minibatch models. ``unknown`` is the status while a run
is in progress; a callback that sets any other status (``"user"`` by convention) stops the run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

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
    "unbounded": "the objective appears unbounded below",
}
"""Every final status, with a one-line explanation."""

UNKNOWN = "unknown"

BASE_COLUMNS = ("iter", "f", "grad_norm", "step", "ratio", "epoch", "time", "accuracy")


class History:
    """The per-iteration record of a run: columns of Python scalars of equal length, one row per
    iteration (cheap to append, easy to plot). Iteration 0 is the starting point.

    ``iter``       iteration index
    ``f``          objective at the iterate (on the current minibatch for stochastic models)
    ``grad_norm``  ‖∇f‖ at the iterate
    ``step``       the solver's step parameter: step length, learning rate, sigma or radius
    ``ratio``      actual over predicted decrease (trust region, R2), ``None`` where it has no meaning
    ``epoch``      the model's epoch index (``None`` for a model without minibatches)
    ``time``       seconds since the start, accuracy evaluations excluded
    ``accuracy``   test accuracy where it was evaluated (see ``eval_every``), else ``None``

    Solvers add their own columns (``extra``), e.g. trunk's inner CG iterations; a callback may add
    columns during a run (``add_column``) and fill the current row with ``set_last``.
    """

    def __init__(self, extra: Sequence[str] = ()):
        self.columns = BASE_COLUMNS + tuple(extra)
        self._data: dict[str, list[Any]] = {name: [] for name in self.columns}

    def append(self, **row: Any) -> None:
        """Adds one row; missing columns get ``None``, unknown ones are an error. Whole or not at
        all: an interrupt (Ctrl-C) between two columns takes the partial row back out."""
        unknown = set(row) - set(self._data)
        if unknown:
            raise KeyError(f"unknown history columns {sorted(unknown)}; columns: {self.columns}")
        length = len(self)
        try:
            for name, column in self._data.items():
                column.append(row.get(name))
        except BaseException:
            for column in self._data.values():
                del column[length:]
            raise

    def add_column(self, name: str) -> None:
        """A new column, ``None`` in the rows so far (nothing happens if it exists)."""
        if name not in self._data:
            self.columns += (name,)
            self._data[name] = [None] * len(self)

    def set_last(self, name: str, value: Any) -> None:
        """Overwrites one entry of the last row (e.g. a value measured after the row was added)."""
        self._data[name][-1] = value

    def __getitem__(self, name: str) -> list[Any]:
        return self._data[name]

    def __len__(self) -> int:
        return len(self._data["iter"])

    def rows(self) -> Iterator[dict[str, Any]]:
        """The rows as dicts, in order."""
        for i in range(len(self)):
            yield {name: column[i] for name, column in self._data.items()}

    def as_dict(self) -> dict[str, list[Any]]:
        """A copy of the columns."""
        return {name: list(column) for name, column in self._data.items()}

    def __repr__(self) -> str:
        return f"History({len(self)} rows, columns={self.columns})"


class ExecutionStats:
    """The outcome of a solver run.

    Attributes: ``status`` (a key of :data:`STATUSES`, or ``"unknown"`` while running), ``message``,
    ``solution`` (a vector on the model's device), ``objective`` f(solution), ``gradient``
    ∇f(solution) (on the model's device), ``dual_feas`` ‖∇f(solution)‖, ``iter``, ``elapsed_time``
    (seconds), ``counters`` (evaluations made by this run), ``solver_specific`` (a dict),
    ``history`` (one row per iteration, see :class:`History`), ``state``: what continues the run
    exactly (the ``state`` option of the next call, see :mod:`minidnn.solvers.driver`), ``None``
    when the run stopped inside an iteration, and ``average``: with the ``average`` option, the
    exponential average of the iterates (:mod:`minidnn.solvers.iterate_average`; the average's own
    vector, on the model's device), else ``None``.

    The names of SciPy's ``OptimizeResult`` answer too, with SciPy's meanings: ``x`` the solution,
    ``fun`` the objective there, ``jac`` the gradient there, ``nit`` the number of iterations,
    ``nfev`` the number of objective evaluations, ``success`` whether the solver ended at a
    first-order point (status ``first_order``; a spent budget is not a success, as in SciPy). On a
    minibatch model ``fun`` and ``jac`` are those of the current minibatch. ``status`` stays a name
    (SciPy's is an integer code).
    """

    def __init__(self, solver: str, history: History):
        self.solver = solver
        self._status = UNKNOWN
        self.message = ""
        self.solution: Any = None
        self.objective = math.nan
        self.gradient: Any = None
        self.dual_feas = math.nan
        self.iter = 0
        self.elapsed_time = 0.0
        self.counters: dict[str, int] = {}
        self.solver_specific: dict[str, Any] = {}
        self.history = history
        self.state: dict[str, Any] | None = None
        self.average: Any = None

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

    # -- SciPy's OptimizeResult names ---------------------------------------------------------------
    @property
    def x(self) -> Any:
        """The solution (``solution``)."""
        return self.solution

    @property
    def fun(self) -> float:
        """The objective at the solution (``objective``)."""
        return self.objective

    @property
    def jac(self) -> Any:
        """The gradient at the solution (``gradient``)."""
        return self.gradient

    @property
    def nit(self) -> int:
        """The number of iterations (``iter``)."""
        return self.iter

    @property
    def nfev(self) -> int:
        """The number of objective evaluations of this run (``counters["neval_obj"]``)."""
        return self.counters.get("neval_obj", 0)

    @property
    def success(self) -> bool:
        """True when the run ended at a first-order point (status ``first_order``)."""
        return self._status == "first_order"

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


def reported_point(stats: ExecutionStats) -> Any:
    """The point a run reports as its model: the average of the iterates when the run kept one (the
    ``average`` option), else the solution."""
    return stats.solution if stats.average is None else stats.average
