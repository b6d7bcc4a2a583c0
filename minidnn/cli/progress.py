"""What the command prints while it works: a header, live progress rows, a summary.

Progress rows come from the solver's callback, written and flushed at once:

- the starting point (iteration 0);
- each completed epoch, with the test accuracy the solver measured there;
- when ``every`` seconds pass without a row (a long epoch), the current iterate without accuracy.

Columns: epoch (completed epochs), iteration, f(x) and ‖∇f(x)‖ at the iterate (on its minibatch),
test accuracy and solver time (evaluations excluded). On a resumed run iterations and time continue
from the checkpoint's.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from minidnn.solvers import ExecutionStats

_COLUMNS = (("epoch", 7), ("iter", 8), ("f(x)", 11), ("||g||", 9), ("test acc", 9), ("time", 9))


def block(items: Sequence[tuple[str, str]], stream: TextIO | None = None) -> None:
    """Prints ``label  text`` lines with the labels aligned, then flushes."""
    stream = stream or sys.stdout
    width = max(len(label) for label, _ in items)
    for label, text in items:
        print(f"  {label:<{width}}  {text}", file=stream)
    stream.flush()


class Progress:
    """The solver callback that prints progress rows (see the module docstring).

    It keeps the latest ``ExecutionStats`` (``self.stats``), so the current iterate is known even
    when a run is cut short outside the solver's own interrupt handling.
    """

    def __init__(
        self,
        every: float,
        iter_offset: int = 0,
        time_offset: float = 0.0,
        enabled: bool = True,
        stream: TextIO | None = None,
    ):
        self.every = every
        self.iter_offset = iter_offset
        self.time_offset = time_offset
        self.enabled = enabled
        self.stream = stream or sys.stdout
        self.stats: ExecutionStats | None = None
        self._last_print = -float("inf")
        self._header_done = False

    def __call__(self, nlp: Any, solver: Any, stats: ExecutionStats) -> None:
        self.stats = stats
        if not self.enabled:
            return
        history = stats.history
        accuracy = history["accuracy"][-1]
        now = time.perf_counter()
        if stats.iter > 0 and accuracy is None and now - self._last_print < self.every:
            return
        self._last_print = now
        self.row(
            history["epoch"][-1],
            self.iter_offset + history["iter"][-1],
            history["f"][-1],
            history["grad_norm"][-1],
            accuracy,
            self.time_offset + history["time"][-1],
        )

    def row(
        self, epoch: int | None, iteration: int, f: float, grad_norm: float, accuracy: float | None, t: float
    ) -> None:
        """Prints one row (and the column titles before the first)."""
        if not self._header_done:
            print("  ".join(f"{title:>{width}}" for title, width in _COLUMNS), file=self.stream)
            self._header_done = True
        cells = [
            _cell(epoch, "d"),
            _cell(iteration, "d"),
            _cell(f, ".4e"),
            _cell(grad_norm, ".2e"),
            _cell(accuracy, ".4f"),
            f"{t:.2f}s",
        ]
        print("  ".join(f"{cell:>{width}}" for cell, (_, width) in zip(cells, _COLUMNS)), file=self.stream)
        self.stream.flush()


def _cell(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)
