"""The loop shared by every solver: options, stopping tests, history, log, callback, batches and
interrupts.

    split the options into the solver's parameters and the common ones (:class:`~.core.Budget`),
    check both and x0                  (nothing is evaluated before this succeeds)
    start: f(x0), ∇f(x0); tol = atol + rtol ‖∇f(x0)‖
    repeat:
        record the row; status from the stopping rules; callback(nlp, solver, stats)
        stop when stats.status is set (by a rule or by the callback, "user" by convention)
        re-evaluate f(x_k), ∇f(x_k) if the batch changed since they were computed
        one iteration of the method
        move to the next minibatch when ``resample`` says so (the epoch count and the test
        accuracy of the row then see the completed epoch)

Continuing a run: ``stats.state`` is the run's state where it stopped between two iterations
(``None`` when an interrupt or a non-finite value cut an iteration short): the method's state
(:meth:`~.core.Solver.state`), the model's batch position (``batch_state()`` of a minibatch model),
the batch policy's state (:mod:`.adaptive_sampling`), the iterations done so far, the stopping
tolerance of the first start and, with ``average``, the average of the iterates. Given back as the
``state`` option with x0 = ``stats.solution`` (the same method, parameters and model), the run goes
on as if it had never stopped: the same iterates, bit for bit. Budgets count from the new call;
``resample`` and ``eval_every`` count iterations over the whole run. ``max_epochs`` counts passes
through the training set; under a batch policy that grows the batch, the samples seen again after
it restarts an epoch count too (:mod:`.adaptive_sampling`).

A non-finite f or ∇f at a point the method needs ends the run with status ``exception`` (``unbounded``
for f = -inf) and the last finite iterate as the solution; Ctrl-C (KeyboardInterrupt) ends it with
status ``user`` and the current iterate. Time spent measuring test accuracy is not counted in
``elapsed_time`` nor in the time budget; it is reported as ``solver_specific["eval_time"]``. On a
model with ``agree_to_stop`` (a distributed model: one process per rank, each with its own clock)
the time budget ends the run when it is spent on any process, at the same iteration on all.

``resample`` (deterministic solvers; stochastic ones take one step per minibatch by definition):
    ``None``         never: the solver works on the model's current batch (a callback may move it)
    ``"iteration"``  a new minibatch after every iteration
    ``"epoch"``      a new minibatch every ``batches_per_epoch`` iterations
    ``k`` (int)      a new minibatch every k iterations
The move happens at the end of an iteration; f and ∇f are re-evaluated on the new batch at the
start of the next one, so a run that stops there wastes no evaluation. A solver that knows of the
move (``batches.moving``) may skip its own evaluation at the new iterate; the driver then
re-evaluates right after the move (see :mod:`~.core`).

``eval_every``:
    ``"epoch"``      at the iteration that completes an epoch, when the model has ``accuracy``
                     (the default; nothing happens for a model without minibatches, without
                     accuracy, or built without test data)
    ``k`` (int)      every k iterations (the model must have ``accuracy``)
    ``None``         never

``average=β`` keeps an exponential average of the iterates x_0, x_1, ... with decay β
(:mod:`.iterate_average`) in ``stats.average``; the test accuracy of the history is measured there.
The method never sees it: its iterates are those of the run without it.

``verbose=k`` prints the iteration table in the style of JSOSolvers.jl's log: a header, then one row
every k iterations and the last row of the run, e.g. for trunk::

     iter          f(x)       ||g||      radius       ratio   epoch      time   inner           cg
        0    2.4200e+01    2.33e+02    2.33e+01           -       -      0.00       -            -
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from minidnn.solvers import parameters
from minidnn.solvers.adaptive_sampling import batch_policy
from minidnn.solvers.core import (
    Batches,
    Budget,
    Column,
    NonFinite,
    Solver,
    StateError,
    checked_scalar,
    has_test_split,
)
from minidnn.solvers.iterate_average import IterateAverage
from minidnn.solvers.stats import STATUSES, UNKNOWN, ExecutionStats, History


def run(solver_class: type[Solver], nlp: Any, x0: Any, options: Mapping[str, Any]) -> ExecutionStats:
    """Checks every option and ``x0``, then runs ``solver_class`` on ``nlp`` from ``x0``."""
    setup = check(solver_class, nlp, options)
    x = start_point(setup.nlp, x0)
    position = setup.batches.state()
    if setup.continued.method is not None:  # the batch size the policy chose, before the position
        try:
            setup.batches.policy.restore(setup.continued.sampling)
        except ValueError as err:
            raise StateError(f"{solver_class.name}: {err}") from None
    try:
        setup.batches.restore(setup.continued.batches)
    except (TypeError, ValueError, KeyError) as err:
        setup.batches.policy.put_back()
        setup.batches.restore(position)
        raise StateError(
            f"{solver_class.name}: the state's batch position does not fit the model: {err}"
        ) from None
    solver = solver_class(setup.nlp, x, setup.batches, setup.budget, setup.params)
    return _Run(solver, setup, position).execute()


@dataclasses.dataclass(frozen=True)
class Setup:
    """A run's checked options and the schedules built from them, before anything is evaluated."""

    nlp: Any
    params: Any
    budget: Budget
    batches: Batches
    resample: Resample
    cadence: EvalCadence
    gradient_test: bool
    continued: Continued


def check(solver_class: type[Solver], nlp: Any, options: Mapping[str, Any]) -> Setup:
    """Checks every option of a run of ``solver_class`` on ``nlp`` without evaluating anything (a
    TypeError or ValueError naming the solver and the option); ``x0`` is checked by :func:`run`."""
    name = solver_class.name
    own, common = parameters.split(
        name,
        options,
        {solver_class.parameters: _names(solver_class.parameters), Budget: _common(solver_class)},
    )
    params = parameters.checked(name, own, nlp.meta)
    explicit = common.atol is not None or common.rtol is not None
    budget = parameters.checked(name, common, nlp.meta)
    test_split = has_test_split(nlp)
    policy = batch_policy(name, params, nlp, budget.resample)
    nlp = solver_class.model(nlp, params)
    batches = Batches(nlp, test_split, policy)
    if budget.max_epochs is not None and not batches.minibatched:
        raise ValueError(f"{name}: max_epochs needs a model with minibatches (next_minibatch, epoch)")
    continued = Continued.checked(name, budget.state)
    resample = Resample(budget.resample, batches)
    cadence = EvalCadence(budget.eval_every, batches, continued.iterations)
    gradient_test = budget.gradient_test(
        explicit, stochastic=solver_class.family == "stochastic" and batches.minibatched
    )
    return Setup(nlp, params, budget, batches, resample, cadence, gradient_test, continued)


@dataclasses.dataclass
class Continued:
    """The driver's part of a run's state: iterations done, the tolerance, the batch position, the
    method's own state, the batch policy's and the average of the iterates (all empty for a fresh
    run)."""

    iterations: int = 0
    tolerance: float | None = None
    batches: Mapping[str, Any] | None = None
    method: Mapping[str, Any] | None = None
    sampling: Mapping[str, Any] | None = None
    average: Mapping[str, Any] | None = None

    @classmethod
    def checked(cls, name: str, state: Mapping[str, Any] | None) -> Continued:
        """The parts of ``state`` (see the module docstring); a ValueError naming the entry that is wrong."""
        if state is None:
            return cls()
        if state.get("method") != name:
            raise StateError(f"{name}: the state is that of method {state.get('method')!r}")
        for key in ("batches", "solver", "sampling", "average"):
            if state.get(key) is not None and not isinstance(state.get(key), Mapping):
                raise StateError(f"{name}: the state's {key!r} must be a mapping or None")
        if not isinstance(state.get("solver"), Mapping):
            raise StateError(f"{name}: the state has no solver state")
        iterations = checked_scalar(name, state, "iterations", 0)
        parts = (state.get("batches"), state["solver"], state.get("sampling"), state.get("average"))
        if state.get("tolerance", 0.0) is None:  # a run without the gradient test
            return cls(iterations, None, *parts)
        tolerance = checked_scalar(name, state, "tolerance", 0.0)
        if tolerance < 0:
            raise StateError(f"{name}: the state's 'tolerance' must be >= 0, got {tolerance!r}")
        return cls(iterations, tolerance, *parts)


def _names(record: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(record))


def _common(solver_class: type[Solver]) -> tuple[str, ...]:
    """The common options a solver takes: all of :class:`Budget`'s, less ``resample`` for the
    stochastic family."""
    return tuple(n for n in _names(Budget) if n != "resample" or solver_class.family == "deterministic")


def start_point(nlp: Any, x0: Any) -> Any:
    """A writable copy of ``x0`` (default: the model's ``meta.x0``), checked by ``nlp.check_vector``."""
    if x0 is None:
        x0 = nlp.meta.x0
    else:
        nlp.check_vector("x0", x0)
    return nlp.meta.backend.xp.asarray(x0, copy=True)


class _Run:
    def __init__(self, solver: Solver, setup: Setup, position: Mapping[str, Any] | None):
        self.solver = solver
        self.gradient_test = setup.gradient_test
        self.continued = setup.continued
        self.position = position
        self.between_iterations = False
        self.nlp = solver.nlp
        self.batches = solver.batches
        self.budget = setup.budget
        self.resample = setup.resample
        self.cadence = setup.cadence
        columns = solver.extra_columns + self.batches.policy.columns
        self.stats = ExecutionStats(solver.name, History(tuple(title for title, _, _ in columns)))
        self.log = IterationLog(setup.budget.verbose, solver.step_label, columns)
        self.tol: float | None = None
        self.eval_time = 0.0
        self.t0 = 0.0
        self.counters0: dict[str, int] = {}
        self.epoch0 = self.batches.epoch
        self.agree: Callable[[bool], bool] = getattr(self.nlp, "agree_to_stop", bool)
        decay = setup.budget.average
        self.average = None if decay is None else IterateAverage(decay, solver.x, solver.backend)

    # -- the loop -------------------------------------------------------------------------------
    def execute(self) -> ExecutionStats:
        stats, solver = self.stats, self.solver
        self.t0 = time.perf_counter()
        self.counters0 = self.nlp.counters.as_dict()
        self.log.header()
        try:
            self.begin()
            self.after_iteration(None)
            while not stats.done:
                self.between_iterations = False
                if solver.batch_version != self.batches.version:
                    solver.refresh()
                self.batches.moving = self.resample.due(self.continued.iterations + stats.iter + 1)
                status = solver.iterate()
                stats.iter += 1
                if self.batches.moving:
                    self.batches.advance()
                    if solver.batch_version is None:  # f, ∇f at the new iterate left to the new batch
                        solver.refresh()
                self.average_iterate()
                self.after_iteration(status)
        except NonFinite as err:
            self.finish(err.status, str(err))
        except KeyboardInterrupt:
            self.finish("user", "interrupted (KeyboardInterrupt)")
        else:
            self.finish(stats.status, "")
        return stats

    def begin(self) -> None:
        """f(x0), ∇f(x0) and the tolerance, or the method's state and tolerance of a continued run
        (a ValueError from a state that does not fit puts the model back where it was)."""
        solver, continued = self.solver, self.continued
        solver.start()
        if continued.method is None:
            self.tol = self.budget.tolerance(solver.grad_norm) if self.gradient_test else None
            self.average_iterate()
            return
        try:
            if self.average is not None:  # x0, the iterate the earlier run ended on, is in it already
                self.average.restore(continued.average)
            solver.restore(continued.method)
        except ValueError:
            self.batches.policy.put_back()
            self.batches.restore(self.position)
            raise
        self.tol = continued.tolerance

    def average_iterate(self) -> None:
        """Adds the current iterate to the average (with ``average``)."""
        if self.average is not None:
            self.average.update(self.solver.x)

    def state(self) -> dict[str, Any] | None:
        """The run's state (see the module docstring), ``None`` before the start is complete or
        inside an iteration."""
        if not self.between_iterations:
            return None
        return {
            "method": self.solver.name,
            "iterations": self.continued.iterations + self.stats.iter,
            "tolerance": self.tol,
            "batches": self.batches.state(),
            "solver": self.solver.state(),
            "sampling": self.batches.policy.state(self.solver.g),
            "average": None if self.average is None else self.average.state(),
        }

    def after_iteration(self, status: str | None) -> None:
        """Updates stats and history, applies the stopping rules, then calls the callback."""
        stats, solver = self.stats, self.solver
        self.update_stats()
        self.record()
        self.between_iterations = True  # the iteration and its row are complete: a state exists
        stats.status = status or self.rule_status() or UNKNOWN
        if self.budget.callback is not None:
            self.budget.callback(self.nlp, solver, stats)

    def rule_status(self) -> str | None:
        return self.budget.status(
            grad_norm=self.solver.grad_norm,
            tol=self.tol,
            iters=self.stats.iter,
            evals=self.nlp.counters.neval_obj - self.counters0["neval_obj"],
            elapsed=self.stats.elapsed_time,
            epochs=self.epochs(),
            agree=self.agree,
        )

    # -- bookkeeping ----------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0 - self.eval_time

    def epochs(self) -> float | None:
        """Epochs of this call: passes through the training set, plus the samples a growing batch saw
        again after restarting an epoch (:mod:`minidnn.solvers.adaptive_sampling`)."""
        epoch = self.batches.epoch
        return None if epoch is None else epoch - self.epoch0 + self.batches.policy.replayed_epochs()

    def update_stats(self) -> None:
        stats, solver = self.stats, self.solver
        stats.solution = solver.x
        stats.objective = solver.f
        stats.gradient = solver.g
        stats.dual_feas = solver.grad_norm
        stats.average = None if self.average is None else self.average.point
        stats.elapsed_time = self.elapsed()
        now = self.nlp.counters.as_dict()
        stats.counters = {key: now[key] - self.counters0.get(key, 0) for key in now}

    def record(self) -> None:
        stats, solver = self.stats, self.solver
        epoch = self.batches.epoch
        accuracy = self.measure_accuracy() if self.cadence.due(stats.iter, epoch) else None
        row = {
            "iter": stats.iter,
            "f": solver.f,
            "grad_norm": solver.grad_norm,
            "step": solver.step,
            "ratio": solver.ratio,
            "epoch": epoch,
            "time": stats.elapsed_time,
            "accuracy": accuracy,
            **solver.extra,
            **self.batches.policy.row(),
        }
        stats.history.append(**row)
        self.log.row(stats.iter, self.log_values(row))

    def log_values(self, row: dict[str, Any]) -> list[Any]:
        """The row's values in the order of the log's columns (the history's, without accuracy)."""
        return [row.get(name) for name in self.stats.history.columns if name != "accuracy"]

    def measure_accuracy(self) -> float:
        """Test accuracy at the iterate, or at the average of the iterates with ``average``."""
        t = time.perf_counter()
        accuracy = self.batches.accuracy(self.solver.x if self.average is None else self.average.point)
        self.eval_time += time.perf_counter() - t
        return accuracy

    def finish(self, status: str, message: str) -> None:
        stats, solver = self.stats, self.solver
        self.update_stats()
        stats.status = status if status != UNKNOWN else "user"
        stats.message = message or STATUSES[stats.status]
        stats.state = self.state() if status not in ("exception", "unbounded") else None
        stats.solver_specific.update(solver.solver_specific)
        stats.solver_specific.update(self.batches.policy.summary())
        if self.epoch0 is not None:
            stats.solver_specific["epochs"] = self.epochs()
        if self.cadence.active:
            last = stats.history["accuracy"][-1] if len(stats.history) else None
            stats.solver_specific["accuracy"] = self.measure_accuracy() if last is None else last
            stats.solver_specific["eval_time"] = self.eval_time
        if len(stats.history):
            last_row = {name: stats.history[name][-1] for name in stats.history.columns}
            self.log.row(stats.iter, self.log_values(last_row), final=True)


# -- schedules -------------------------------------------------------------------------------------
class Resample:
    """Decides, after iteration k >= 1 (counted over the whole run), whether to move to the next
    minibatch (see ``resample``)."""

    def __init__(self, option: Any, batches: Batches):
        self.period: int | None = None
        if option is None:
            return
        if not batches.minibatched:
            raise ValueError(f"resample={option!r} needs a model with minibatches (next_minibatch, epoch)")
        if option == "iteration":
            self.period = 1
        elif option == "epoch":
            self.period = batches.batches_per_epoch
        else:
            self.period = option

    def due(self, k: int) -> bool:
        return self.period is not None and k >= 1 and k % self.period == 0


class EvalCadence:
    """Decides after which iterations the test accuracy is measured (see ``eval_every``)."""

    def __init__(self, option: Any, batches: Batches, done: int = 0):
        self.done = done
        self.period = option if isinstance(option, int) else None
        if self.period is not None and not batches.has_accuracy:
            raise ValueError(
                f"eval_every={option!r} needs a model with an accuracy(x, split) method and test data"
            )
        self.per_epoch = option == "epoch" and batches.has_accuracy and batches.minibatched
        self.active = self.per_epoch or self.period is not None
        self._last_epoch: int | None = batches.epoch

    def due(self, k: int, epoch: int | None) -> bool:
        """True when iteration k (at the model's epoch ``epoch``) should carry an accuracy."""
        if self.period is not None:
            return (self.done + k) % self.period == 0 and k > 0
        if self.per_epoch and epoch != self._last_epoch:
            self._last_epoch = epoch
            return True
        return False


# -- the iteration table ---------------------------------------------------------------------------
_BASE_COLUMNS: tuple[Column, ...] = (
    ("iter", 5, "d"),
    ("f(x)", 12, ".4e"),
    ("||g||", 10, ".2e"),
    ("", 10, ".2e"),  # the step column, titled by the solver
    ("ratio", 10, ".2e"),
    ("epoch", 6, "d"),
    ("time", 8, ".2f"),
)


class IterationLog:
    """Prints the table; ``step_label`` titles the step column (step, lr, sigma, radius)."""

    def __init__(self, every: int, step_label: str, extra: Sequence[Column] = ()):
        self.every = every
        self.columns = [(title or step_label, width, spec) for title, width, spec in _BASE_COLUMNS] + list(
            extra
        )
        self._last_printed: int | None = None

    def header(self) -> None:
        if self.every > 0:
            print("  ".join(f"{title:>{width}}" for title, width, _ in self.columns))

    def row(self, iteration: int, values: Sequence[Any], *, final: bool = False) -> None:
        """Prints ``values`` (one per column, the iteration first) every k iterations, or when ``final``."""
        if self.every <= 0 or self._last_printed == iteration:
            return
        if iteration % self.every != 0 and not final:
            return
        self._last_printed = iteration
        print("  ".join(_cell(value, column) for value, column in zip(values, self.columns)))


def _cell(value: Any, column: Column) -> str:
    _, width, spec = column
    if value is None:
        return f"{'-':>{width}}"
    if isinstance(value, str | bool):
        return f"{value!s:>{width}}"
    if isinstance(value, int) and not spec.endswith("d"):
        value = float(value)
    return f"{value:>{width}{spec}}"


# -- the public function of a solver ----------------------------------------------------------------
def solver_function(solver_class: type[Solver]) -> Callable[..., ExecutionStats]:
    """The function ``name(nlp, x0=None, **options)`` that runs ``solver_class``; its signature and
    docstring are generated from the solver's parameter record and :class:`Budget`."""

    def solve(nlp: Any, x0: Any = None, **options: Any) -> ExecutionStats:
        return run(solver_class, nlp, x0, options)

    solve.__name__ = solve.__qualname__ = solver_class.name
    solve.__module__ = solver_class.__module__
    solve.__doc__ = _docstring(solver_class)
    solve.__signature__ = _signature(solver_class)  # type: ignore[attr-defined]
    return solve


_GRADIENT_TEST = {
    "stochastic": "The gradient test (atol, rtol) is off on a minibatch model unless atol or rtol is given: "
    "a budget ends the run. atol = rtol = 0 turns it off everywhere.",
    "deterministic": "The gradient test stops at ‖∇f(x_k)‖ ≤ atol + rtol ‖∇f(x_0)‖; "
    "atol = rtol = 0 turns it off.",
}


def _signature(solver_class: type[Solver]) -> inspect.Signature:
    keyword = inspect.Parameter.KEYWORD_ONLY
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [
        inspect.Parameter("nlp", positional, annotation=Any),
        inspect.Parameter("x0", positional, default=None, annotation=Any),
    ]
    for record in (solver_class.parameters, Budget):
        names = _names(record) if record is not Budget else _common(solver_class)
        fields = {field.name: field for field in dataclasses.fields(record)}
        params += [
            inspect.Parameter(n, keyword, default=fields[n].default, annotation=fields[n].type) for n in names
        ]
    return inspect.Signature(params, return_annotation=ExecutionStats)


def _docstring(solver_class: type[Solver]) -> str:
    summary = (solver_class.__doc__ or "").strip()
    own = "\n".join(f"    {line}" for line in parameters.doc_lines(solver_class.parameters))
    common = ", ".join(_common(solver_class))
    return (
        f"{summary}\n\nParameters ({solver_class.parameters.__name__}):\n\n{own}\n\n"
        f"Common options (:class:`minidnn.solvers.core.Budget`): {common}.\n\n"
        f"{_GRADIENT_TEST[solver_class.family]}\n\n"
        "Returns an :class:`~minidnn.solvers.stats.ExecutionStats`.\n"
    )
