"""The per-iteration record of a run, kept as columns of Python scalars (cheap to append, easy to plot).

Base columns, one entry per iteration (iteration 0 is the starting point):

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

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

BASE_COLUMNS = ("iter", "f", "grad_norm", "step", "ratio", "epoch", "time", "accuracy")


class History:
    """Columns of equal length, one row per iteration."""

    def __init__(self, extra: Sequence[str] = ()):
        self.columns = BASE_COLUMNS + tuple(extra)
        self._data: dict[str, list[Any]] = {name: [] for name in self.columns}

    def append(self, **row: Any) -> None:
        """Adds one row; missing columns get ``None``, unknown ones are an error."""
        unknown = set(row) - set(self._data)
        if unknown:
            raise KeyError(f"unknown history columns {sorted(unknown)}; columns: {self.columns}")
        for name, column in self._data.items():
            column.append(row.get(name))

    def add_column(self, name: str) -> None:
        """A new column, ``None`` in the rows so far (nothing happens if it exists)."""
        if name not in self._data:
            self.columns += (name,)
            self._data[name] = [None] * len(self)

    def set_last(self, name: str, value: Any) -> None:
        """Overwrites one entry of the last row (e.g. an accuracy measured after the row was added)."""
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
