"""Copies of the iterate (or of the average of the iterates, with ``average``) at evenly spaced
solver times, evaluated after the run.

Measuring test accuracy during a timed run would either eat into the budget or need the solver's
cooperation; a copy of the flat vector costs microseconds. The callback keeps a copy whenever the
solver time crosses the next multiple of ``budget / points`` (or, without a time budget, at each
completed epoch); :meth:`Snapshots.curve` then evaluates every copy on the whole test split.
"""

from __future__ import annotations

import math
from typing import Any

from minidnn.solvers import ExecutionStats, reported_point


class Snapshots:
    """A solver callback that keeps (solver time, copy of x) pairs (see the module docstring)."""

    def __init__(self, budget: float | None, points: int):
        self.every = budget / points if budget else None
        self.next_time = 0.0
        self.last_epoch: int | None = None
        self.items: list[tuple[float, Any]] = []
        self.stats: ExecutionStats | None = None

    def __call__(self, nlp: Any, solver: Any, stats: ExecutionStats) -> None:
        self.stats = stats
        elapsed, epoch = stats.elapsed_time, stats.history["epoch"][-1]
        if self.every is not None:
            due = elapsed >= self.next_time
            if due:
                self.next_time = (math.floor(elapsed / self.every) + 1) * self.every
        else:
            due = epoch != self.last_epoch
            self.last_epoch = epoch
        if due:
            self.keep(nlp, elapsed, reported_point(stats))

    def keep(self, nlp: Any, elapsed: float, x: Any) -> None:
        """Stores a copy of ``x`` taken at solver time ``elapsed``."""
        self.items.append((elapsed, nlp.meta.backend.xp.asarray(x, copy=True)))

    def curve(self, nlp: Any) -> tuple[list[float], list[float]]:
        """(times, test accuracies) of the copies, in order."""
        times = [t for t, _ in self.items]
        return times, [float(nlp.accuracy(x, split="test")) for _, x in self.items]
