"""Curvature inside training: a solver callback that records the Hessian's spectrum as the run goes.

``CurvatureMonitor(every=K)`` is a ``callback(nlp, solver, stats)`` for any solver of
``minidnn.solvers``. At iteration 0, every K iterations and at the final iterate it measures, at the
solver's iterate ``solver.x`` and on the model's current data, the ``k`` largest eigenvalues
(:func:`eigenvalues`) and the trace (:func:`trace`), and writes them into the run's history as the
columns ``eigenvalues`` (a list, descending), ``trace`` and ``trace_stderr`` (``None`` in the other
rows). With ``density=True`` it also estimates the spectral density (:func:`density`) at the final
iterate, stored as ``stats.solver_specific["spectral_density"]``.

It knows the solver only through that call: it reads ``stats.iter``, ``stats.done`` and
``stats.history`` (``add_column``, ``set_last``) and ``solver.x``. The products it makes are not
counted as the run's: the model's counters are restored after each measurement and the products
kept in ``products``. Its time is the run's time (and spends the run's time budget); the run's share
is ``stats.solver_specific["curvature_time"]``, the total over runs ``seconds``. A run that ends on
a non-finite value or Ctrl-C skips the last callback, and so the last measurement.

``model`` measures another model at the solver's iterate, e.g. the full training set
(``NeuralNetModel(..., full_batch=True)`` over the same network) while the solver runs on minibatches.
"""

from __future__ import annotations

import time
from typing import Any

from minidnn.nlpmodels.curvature.eigen import eigenvalues
from minidnn.nlpmodels.curvature.hessian import count
from minidnn.nlpmodels.curvature.hutchinson import PROBES, trace
from minidnn.nlpmodels.curvature.slq import density

COLUMNS = ("eigenvalues", "trace", "trace_stderr")
COUNTERS = ("neval_obj", "neval_grad", "neval_hprod")  # the NLPModel contract's counters


class CurvatureMonitor:
    """A solver callback recording the top eigenvalues and the trace every ``every`` iterations."""

    def __init__(
        self,
        every: int,
        *,
        k: int = 1,
        probes: int = PROBES,
        density: bool = False,
        model: Any = None,
        seed: int = 0,
        max_iter: int | None = None,
    ):
        self.every = count("CurvatureMonitor", "every", every)
        self.k = count("CurvatureMonitor", "k", k)
        self.probes = count("CurvatureMonitor", "probes", probes)
        if max_iter is not None:
            count("CurvatureMonitor", "max_iter", max_iter)
        self.max_iter = max_iter
        self.density = bool(density)
        if model is not None and not getattr(model, "has_hprod", callable(getattr(model, "hprod", None))):
            raise TypeError(f"CurvatureMonitor: model {model!r} has no Hessian-vector product (hprod)")
        self.model = model
        self.seed = seed
        self.products = 0
        self.seconds = 0.0

    def __call__(self, nlp: Any, solver: Any, stats: Any) -> None:
        if stats.iter % self.every != 0 and not stats.done:
            return
        model = self.model if self.model is not None else nlp
        history = stats.history
        for name in COLUMNS:
            history.add_column(name)
        start = time.perf_counter()
        with _Uncounted(model, self):
            values = eigenvalues(model, solver.x, self.k, seed=self.seed, max_iter=self.max_iter)
            estimate = trace(model, solver.x, probes=self.probes, seed=self.seed)
            if stats.done and self.density:
                stats.solver_specific["spectral_density"] = density(model, solver.x, seed=self.seed)
        elapsed = time.perf_counter() - start
        self.seconds += elapsed
        history.set_last("eigenvalues", [float(v) for v in values])
        history.set_last("trace", estimate.estimate)
        history.set_last("trace_stderr", estimate.stderr)
        stats.solver_specific["curvature_time"] = stats.solver_specific.get("curvature_time", 0.0) + elapsed


class _Uncounted:
    """Restores the model's counters on exit; the Hessian products made inside go to ``monitor.products``."""

    def __init__(self, model: Any, monitor: CurvatureMonitor):
        self.counters = model.counters
        self.monitor = monitor
        self.saved: dict[str, int] = {}

    def __enter__(self) -> None:
        self.saved = {name: getattr(self.counters, name) for name in COUNTERS}

    def __exit__(self, *exc: object) -> None:
        self.monitor.products += self.counters.neval_hprod - self.saved["neval_hprod"]
        for name, value in self.saved.items():
            setattr(self.counters, name, value)
