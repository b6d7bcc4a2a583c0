"""The history of a run across resumed parts.

A resumed run starts its own history at iteration 0 from the checkpoint's vector. Joined to the
checkpoint's history, its rows follow the old ones with iterations and times shifted by the old
totals; its row 0 is dropped (the old history's last row holds that iterate already). Epochs need
no shift: the model resumes at the checkpoint's epoch. Columns that only one part has (a solver's
extra columns) are ``None`` in the other's rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def join(
    old: Mapping[str, Sequence[Any]], new: Mapping[str, Sequence[Any]], iter_offset: int, time_offset: float
) -> dict[str, list[Any]]:
    """The rows of ``old``, then those of ``new`` after its first, shifted (see the module docstring)."""
    if not old:
        return {name: list(column) for name, column in new.items()}
    old_rows = _length(old)
    new_rows = max(_length(new) - 1, 0)
    columns = list(old) + [name for name in new if name not in old]
    joined: dict[str, list[Any]] = {}
    for name in columns:
        head = list(old.get(name, [None] * old_rows))
        tail = list(new.get(name, [None] * (new_rows + 1)))[1:]
        if name == "iter":
            tail = [None if value is None else value + iter_offset for value in tail]
        elif name == "time":
            tail = [None if value is None else value + time_offset for value in tail]
        joined[name] = head + tail
    return joined


def _length(columns: Mapping[str, Sequence[Any]]) -> int:
    return len(next(iter(columns.values()), []))
