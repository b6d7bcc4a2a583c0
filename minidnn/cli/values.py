"""Values written on the command line: argparse types, and solver options as ``KEY=VALUE``.

A solver option's value is read as the first of: ``true``/``false`` (bool), ``none`` (None), an
integer, a float, a comma-separated list (a tuple of such values, e.g. ``betas=0.9,0.99``), else the
string itself.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

_WORDS: dict[str, Any] = {"true": True, "false": False, "none": None}


def parse_value(text: str) -> Any:
    """The Python value of one option value (see the module docstring)."""
    if "," in text:
        return tuple(parse_value(part) for part in text.split(",") if part)
    lowered = text.strip().lower()
    if lowered in _WORDS:
        return _WORDS[lowered]
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def key_value(text: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` as (key, parsed value); an argparse error for anything else."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, parse_value(value.strip())


def positive_int(text: str) -> int:
    """An integer >= 1 (argparse type)."""
    value = _number(int, text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def nonnegative_int(text: str) -> int:
    """An integer >= 0 (argparse type)."""
    value = _number(int, text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    """A finite number >= 0 (argparse type)."""
    value = _number(float, text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def int_list(text: str) -> tuple[int, ...]:
    """Comma-separated positive integers, e.g. ``128,64``; ``none`` for an empty list (argparse type).

    An empty item (``,``, ``64,,32``, ``''``) is an error, not a list with fewer sizes.
    """
    if text.strip().lower() == "none":
        return ()
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers >= 1 such as 128,64 (or none), got {text!r}"
        )
    return tuple(positive_int(part) for part in parts)


def path(text: str) -> str:
    """A path that is not empty (argparse type): ``''`` would silently mean the current folder, or
    no file at all."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty one (use . for the current folder)")
    return text


def name_list(valid: tuple[str, ...], what: str) -> Callable[[str], tuple[str, ...]]:
    """An argparse type: comma-separated names, each one of ``valid`` (``what`` names them in errors)."""

    def names(text: str) -> tuple[str, ...]:
        chosen = tuple(name.strip() for name in text.split(",") if name.strip())
        repeated = sorted({name for name in chosen if chosen.count(name) > 1})
        if repeated:
            raise argparse.ArgumentTypeError(f"{what} {', '.join(repeated)} given twice in {text!r}")
        unknown = [name for name in chosen if name not in valid]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(
                f"unknown {what}(s) {', '.join(unknown) or '(none given)'}; valid {what}s: {', '.join(valid)}"
            )
        return chosen

    return names


def _number(convert: type, text: str) -> Any:
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
