"""The loop shared by every solver: stopping tests, history, log, callback, batches and interrupts.

    validate options and x0           (nothing is evaluated before this succeeds)
    start: f(x0), ∇f(x0); tol = atol + rtol ‖∇f(x0)‖
    repeat:
        record the row; status from the stopping rules; callback(nlp, solver, stats)
        stop when stats.status is set (by a rule or by the callback, "user" by convention)
        re-evaluate f(x_k), ∇f(x_k) if the batch changed since they were computed
        one iteration of the method
        move to the next minibatch when ``resample`` says so (the epoch count and the test
        accuracy of the row then see the completed epoch)

A non-finite f or ∇f at a point the method needs ends the run with status ``exception`` (``unbounded``
for f = -inf) and the last finite iterate as the solution; Ctrl-C (KeyboardInterrupt) ends it with
status ``user`` and the current iterate. Time spent measuring test accuracy is not counted in
``elapsed_time`` nor in the time budget; it is reported as ``solver_specific["eval_time"]``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from minidnn.solvers import options as _options
from minidnn.solvers import vectors
from minidnn.solvers.batches import Batches
from minidnn.solvers.history import History
from minidnn.solvers.logging import IterationLog
from minidnn.solvers.schedule import EvalCadence, Resample
from minidnn.solvers.solver import NonFinite, Solver
from minidnn.solvers.stats import STATUSES, UNKNOWN, ExecutionStats
from minidnn.solvers.stopping import Budget


def start_point(nlp: Any, x0: Any) -> Any:
    """A writable copy of ``x0`` (default: the model's ``meta.x0``), checked by ``nlp.check_vector``."""
    if x0 is None:
        x0 = nlp.meta.x0
    else:
        nlp.check_vector("x0", x0)
    return vectors.copy(nlp.meta.backend, x0)


def run(
    solver_class: type[Solver], nlp: Any, x0: Any, params: Mapping[str, Any], options: Mapping[str, Any]
) -> ExecutionStats:
    """Validates everything, then runs ``solver_class`` on ``nlp`` from ``x0``."""
    name = solver_class.name
    common = _options.parse(name, options, params, solver_class.stochastic)
    budget = Budget.from_options(
        nlp.meta.dtype,
        atol=common.atol,
        rtol=common.rtol,
        max_eval=common.max_eval,
        max_iter=common.max_iter,
        max_time=common.max_time,
        max_epochs=common.max_epochs,
    )
    batches = Batches(nlp)
    if budget.max_epochs is not None and not batches.minibatched:
        raise ValueError(f"{name}: max_epochs needs a model with minibatches (next_minibatch, epoch)")
    resample = Resample(common.resample, batches)
    cadence = EvalCadence(common.eval_every, batches)
    x = start_point(nlp, x0)
    solver = solver_class(nlp, x, batches, budget, **params)
    return _Run(solver, budget, common, resample, cadence).execute()


class _Run:
    def __init__(
        self,
        solver: Solver,
        budget: Budget,
        common: _options.CommonOptions,
        resample: Resample,
        cadence: EvalCadence,
    ):
        self.solver = solver
        self.nlp = solver.nlp
        self.batches = solver.batches
        self.budget = budget
        self.callback = common.callback
        self.resample = resample
        self.cadence = cadence
        extra = tuple(title for title, _, _ in solver.extra_columns)
        self.stats = ExecutionStats(solver.name, History(extra))
        self.log = IterationLog(common.verbose, solver.step_label, solver.extra_columns)
        self.tol = 0.0
        self.eval_time = 0.0
        self.t0 = 0.0
        self.counters0: dict[str, int] = {}
        self.epoch0 = self.batches.epoch

    # -- the loop -------------------------------------------------------------------------------
    def execute(self) -> ExecutionStats:
        stats, solver = self.stats, self.solver
        self.t0 = time.perf_counter()
        self.counters0 = self.nlp.counters.as_dict()
        self.log.header()
        try:
            solver.start()
            self.tol = self.budget.tolerance(solver.grad_norm)
            self.after_iteration(None)
            while not stats.done:
                if solver.batch_version != self.batches.version:
                    solver.refresh()
                status = solver.iterate()
                stats.iter += 1
                if self.resample.due(stats.iter):
                    self.batches.advance()
                self.after_iteration(status)
        except NonFinite as err:
            self.finish(err.status, str(err))
        except KeyboardInterrupt:
            self.finish("user", "interrupted (KeyboardInterrupt)")
        else:
            self.finish(stats.status, "")
        return stats

    def after_iteration(self, status: str | None) -> None:
        """Updates stats and history, applies the stopping rules, then calls the callback."""
        stats, solver = self.stats, self.solver
        self.update_stats()
        self.record()
        stats.status = status or self.rule_status() or UNKNOWN
        if self.callback is not None:
            self.callback(self.nlp, solver, stats)

    def rule_status(self) -> str | None:
        return self.budget.status(
            grad_norm=self.solver.grad_norm,
            tol=self.tol,
            iters=self.stats.iter,
            evals=self.nlp.counters.neval_obj - self.counters0["neval_obj"],
            elapsed=self.stats.elapsed_time,
            epochs=self.epochs(),
        )

    # -- bookkeeping ----------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0 - self.eval_time

    def epochs(self) -> int | None:
        epoch = self.batches.epoch
        return None if epoch is None else epoch - self.epoch0

    def update_stats(self) -> None:
        stats, solver = self.stats, self.solver
        stats.solution = solver.x
        stats.objective = solver.f
        stats.dual_feas = solver.grad_norm
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
        }
        stats.history.append(**row)
        self.log.row(stats.iter, self.log_values(row))

    def log_values(self, row: dict[str, Any]) -> list[Any]:
        """The row's values in the order of the log's columns (the history's, without accuracy)."""
        return [row.get(name) for name in self.stats.history.columns if name != "accuracy"]

    def measure_accuracy(self) -> float:
        t = time.perf_counter()
        accuracy = self.batches.accuracy(self.solver.x)
        self.eval_time += time.perf_counter() - t
        return accuracy

    def finish(self, status: str, message: str) -> None:
        stats, solver = self.stats, self.solver
        self.update_stats()
        stats.status = status if status != UNKNOWN else "user"
        stats.message = message or STATUSES[stats.status]
        stats.solver_specific.update(solver.solver_specific)
        if self.epoch0 is not None:
            stats.solver_specific["epochs"] = self.epochs()
        if self.cadence.active:
            last = stats.history["accuracy"][-1] if len(stats.history) else None
            stats.solver_specific["accuracy"] = self.measure_accuracy() if last is None else last
            stats.solver_specific["eval_time"] = self.eval_time
        if len(stats.history):
            last_row = {name: stats.history[name][-1] for name in stats.history.columns}
            self.log.row(stats.iter, self.log_values(last_row), final=True)
