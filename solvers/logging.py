"""The iteration table printed with ``verbose=k``, in the style of JSOSolvers.jl's log rows.

A header, then one row every k iterations and the last row of the run, e.g. for trunk::

     iter          f(x)       ||g||      radius       ratio   epoch      time   inner           cg
        0    2.4200e+01    2.33e+02    2.33e+01           -       -      0.00       -            -
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Column = tuple[str, int, str]
"""(title, width, format spec for numbers)."""

_BASE: tuple[Column, ...] = (
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
        self.columns = [(title or step_label, width, spec) for title, width, spec in _BASE] + list(extra)
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
