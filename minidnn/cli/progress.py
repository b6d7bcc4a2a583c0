"""What the command prints while it works: a header, live progress, a summary.

Progress comes from the solver's callback. Its table has one row per completed epoch (with the test
accuracy measured there) and one for the starting point; within an epoch:

- on a terminal, one line updated in place (at most 10 times a second), as tqdm or Keras show it::

      epoch 3/30  batch 12/57  f 0.3456 (batch 0.2811)  ||g|| 1.2e-01  845 it/s  eta 0:01 epoch, 0:24 run

- elsewhere (a pipe, a file, CI logs), a plain row of the table whenever ``every`` seconds passed
  since the last row (``--progress S``), so a log holds no control codes.

``every`` = 0 turns both off: the table alone (0 means off, as for the budgets).

Columns: epoch (the epoch in progress, from 1; a completed epoch's row shows that epoch), batch k/N
(iterations since the epoch began, of the batches in an epoch), iteration, f as the running mean of
the minibatch values over the epoch so far and, beside it, the current minibatch's value, ‖∇f(x)‖
on the minibatch, test accuracy, solver time (evaluations excluded), the rate in iterations per
second of solver time, and the estimated time left in the epoch and in the run (the nearest of the
budgets: epochs, seconds, iterations; ``-`` without a budget). On a resumed run iterations and time
continue from the checkpoint's.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from minidnn.solvers import ExecutionStats

_COLUMNS = (
    ("epoch", 5),
    ("batch", 11),
    ("iter", 7),
    ("f (mean)", 10),
    ("f (batch)", 10),
    ("||g||", 8),
    ("test acc", 8),
    ("time", 8),
    ("it/s", 7),
    ("eta epoch", 9),
    ("eta run", 8),
)
REFRESH = 0.1
"""Seconds between two updates of the in-place line (tqdm's default ``mininterval``)."""
_CLEAR = "\r\x1b[K"
"""Carriage return, then erase to the end of the line (ANSI EL)."""


def block(items: Sequence[tuple[str, str]], stream: TextIO | None = None) -> None:
    """Prints ``label  text`` lines with the labels aligned, then flushes."""
    stream = stream or sys.stdout
    width = max(len(label) for label, _ in items)
    for label, text in items:
        print(f"  {label:<{width}}  {text}", file=stream)
    stream.flush()


def transient(stream: TextIO, text: str) -> None:
    """Shows ``text`` in place of the current line on a terminal (empty: clears it); nothing elsewhere."""
    if stream.isatty():
        stream.write(_CLEAR + text)
        stream.flush()


def plural(count: int, noun: str) -> str:
    """``1 epoch``, ``2 epochs``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def duration(seconds: float | None) -> str:
    """``m:ss`` or ``h:mm:ss``; ``-`` when unknown."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "-"
    minutes, secs = divmod(int(round(max(seconds, 0.0))), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(frozen=True)
class Budget:
    """What ends the run, for the ETA: ``epochs`` (the model's epoch index at which it ends),
    ``max_time`` (solver seconds) and ``max_iter``, each ``None`` for no limit."""

    end_epoch: int | None = None
    max_time: float | None = None
    max_iter: int | None = None


class Progress:
    """The solver callback that prints progress (see the module docstring).

    It keeps the latest ``ExecutionStats`` (``self.stats``), so the current iterate is known even
    when a run is cut short outside the solver's own interrupt handling.
    """

    def __init__(
        self,
        every: float,
        batches_per_epoch: int = 1,
        budget: Budget = Budget(),
        iter_offset: int = 0,
        time_offset: float = 0.0,
        enabled: bool = True,
        stream: TextIO | None = None,
        refresh: float = REFRESH,
    ):
        self.every = every
        self.refresh = refresh
        self.batches = max(int(batches_per_epoch), 1)
        self.budget = budget
        self.iter_offset = iter_offset
        self.time_offset = time_offset
        self.enabled = enabled
        self.stream = stream or sys.stdout
        self.stats: ExecutionStats | None = None
        self._live = self.stream.isatty()
        self._last_print = -float("inf")
        self._header_done = False
        self._epoch: int | None = None
        self._start_iter = 0
        self._f_sum = 0.0
        self._f_count = 0

    def __call__(self, nlp: Any, solver: Any, stats: ExecutionStats) -> None:
        self.stats = stats
        if not self.enabled:
            return
        history = stats.history
        k, epoch, f = history["iter"][-1], history["epoch"][-1] or 0, history["f"][-1]
        if self._epoch is None:
            self._epoch, self._start_iter = epoch, k
        completed = epoch != self._epoch
        if k > 0:
            self._f_sum, self._f_count = self._f_sum + f, self._f_count + 1
        position = min(k - self._start_iter, self.batches)
        cells = self._cells(stats, epoch if completed else epoch + 1, position, f)
        now = time.perf_counter()
        if completed or k == 0:
            self._last_print = now
            self.row(cells)
        elif self.every == 0:
            pass
        elif not self._live and now - self._last_print >= self.every:
            self._last_print = now
            self.row(cells)
        elif self._live and now - self._last_print >= self.refresh:
            self._last_print = now
            transient(self.stream, self._line(cells))
        if completed:
            self._epoch, self._start_iter, self._f_sum, self._f_count = epoch, k, 0.0, 0

    def _cells(self, stats: ExecutionStats, shown_epoch: int, position: int, f: float) -> dict[str, Any]:
        history = stats.history
        k, t = history["iter"][-1], history["time"][-1]
        rate = k / t if k > 0 and t > 0 else None
        left_in_epoch = None if rate is None else (self.batches - position) / rate
        return {
            "epoch": shown_epoch,
            "position": position,
            "iter": self.iter_offset + k,
            "f_mean": self._f_sum / self._f_count if self._f_count else f,
            "f": f,
            "grad_norm": history["grad_norm"][-1],
            "accuracy": history["accuracy"][-1],
            "time": self.time_offset + t,
            "rate": rate,
            "eta_epoch": left_in_epoch,
            "eta_run": self._run_left(history["epoch"][-1] or 0, position, k, t, rate),
        }

    def _run_left(self, epoch: int, position: int, k: int, t: float, rate: float | None) -> float | None:
        """Seconds until the nearest budget ends the run, at the current rate; None without one."""
        b, left = self.budget, []
        if b.max_time is not None:
            left.append(b.max_time - t)
        if rate is not None and b.max_iter is not None:
            left.append((b.max_iter - k) / rate)
        if rate is not None and b.end_epoch is not None:
            done = position if epoch == self._epoch else 0
            left.append(((b.end_epoch - epoch) * self.batches - done) / rate)
        return max(min(left), 0.0) if left else None

    def row(self, cells: dict[str, Any]) -> None:
        """Prints one row of the table (and the column titles before the first)."""
        if self._live:
            self.stream.write(_CLEAR)
        if not self._header_done:
            print("  ".join(f"{title:>{width}}" for title, width in _COLUMNS), file=self.stream)
            self._header_done = True
        texts = [
            str(cells["epoch"]),
            f"{cells['position']}/{self.batches}",
            str(cells["iter"]),
            _number(cells["f_mean"], ".4e"),
            _number(cells["f"], ".3e"),
            _number(cells["grad_norm"], ".2e"),
            _number(cells["accuracy"], ".4f"),
            f"{cells['time']:.2f}s",
            _number(cells["rate"], ".0f"),
            duration(cells["eta_epoch"]),
            duration(cells["eta_run"]),
        ]
        print("  ".join(f"{text:>{width}}" for text, (_, width) in zip(texts, _COLUMNS)), file=self.stream)
        self.stream.flush()

    def _line(self, cells: dict[str, Any]) -> str:
        """The in-place line of a terminal."""
        end = self.budget.end_epoch
        epoch = f"{cells['epoch']}/{end}" if end is not None else str(cells["epoch"])
        rate = "-" if cells["rate"] is None else f"{cells['rate']:.0f}"
        return (
            f"epoch {epoch}  batch {cells['position']}/{self.batches}  "
            f"f {_number(cells['f_mean'], '.4f')} (batch {_number(cells['f'], '.4f')})  "
            f"||g|| {_number(cells['grad_norm'], '.1e')}  {rate} it/s  "
            f"eta {duration(cells['eta_epoch'])} epoch, {duration(cells['eta_run'])} run"
        )

    def close(self) -> None:
        """Clears the in-place line (before the summary)."""
        if self._live and self.enabled:
            transient(self.stream, "")


def _number(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)
