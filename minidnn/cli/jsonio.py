"""JSON as the command writes it: strict (no NaN or Infinity tokens), so any JSON reader accepts it.

Non-finite floats become ``null``; tuples become lists; NumPy scalars become Python numbers; any
other object becomes its ``str``.
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any


def plain(value: Any) -> Any:
    """``value`` with every leaf made JSON-ready (see the module docstring)."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    return str(value)


def dumps(value: Any, indent: int | None = None) -> str:
    """Strict JSON text of ``value``."""
    return json.dumps(plain(value), indent=indent, allow_nan=False)


def document(value: dict[str, Any], depth: int = 2) -> str:
    """Readable strict JSON of a mapping: one line per key down to ``depth`` levels of nested
    mappings, each value below that on one line (a history column is one line)."""
    return _lines(plain(value), depth, 0) + "\n"


def _lines(value: Any, depth: int, level: int) -> str:
    if not isinstance(value, dict) or level >= depth or not value:
        return json.dumps(value, allow_nan=False)
    pad = "  " * (level + 1)
    items = [f"{pad}{json.dumps(key)}: {_lines(item, depth, level + 1)}" for key, item in value.items()]
    return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
