"""How a solver's parameters are declared: once, as the fields of a frozen dataclass, each with its
default, the values it may take and the source of the default.

    @declared
    class AdamParameters:
        lr: float = parameter(1e-3, "step length", POSITIVE, source="Knet.jl Adam: lr = 0.001")

Everything else comes from that declaration: :func:`checked` validates a run's values (the one place
where parameters are checked, before anything is evaluated), :func:`doc_lines` writes the parameter
lines of the docstrings, and the command line builds its solver flags from the fields.

A default that depends on the problem is declared as :class:`Derived` (stored as ``None``): e.g.
R2's η₁ = eps^(1/4) of the model's dtype, or trunk's cap of 2n inner iterations. ``None`` given for
such a parameter means the derived value too. A bound of a range may name another field of the
same record (R2: η₁ < η₂ < 1).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy


def machine_eps(dtype: str) -> float:
    """eps of a floating-point dtype (2^-23 for float32, 2^-52 for float64)."""
    return float(numpy.finfo(dtype).eps)


# -- what values a parameter may take -----------------------------------------------------------------
class Check:
    """The values a parameter may take: ``valid`` tests one, ``describe`` says which in words.

    ``record`` is the record being checked, for bounds that name another of its fields.
    """

    error: type[Exception] = ValueError

    def valid(self, value: Any, record: Any) -> bool:
        raise NotImplementedError

    def describe(self, record: Any = None) -> str:
        raise NotImplementedError

    def convert(self, value: Any) -> Any:
        """The value as a plain Python value (float, int, tuple) once it is valid."""
        return value


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Number(Check):
    """A finite number between ``low`` and ``high``; a bound is a number or the name of another field."""

    low: float | str = -math.inf
    high: float | str = math.inf
    low_open: bool = False
    high_open: bool = False

    def valid(self, value: Any, record: Any) -> bool:
        if not _is_real(value):
            return False
        low, high = _bound(self.low, record), _bound(self.high, record)
        above = value > low if self.low_open else value >= low
        below = value < high if self.high_open else value <= high
        return above and below

    def describe(self, record: Any = None) -> str:
        low, high = _bound_text(self.low, record), _bound_text(self.high, record)
        if self.high == math.inf:
            return f"a finite number {'>' if self.low_open else '>='} {low}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"a number in {left}{low}, {high}{right}"

    def convert(self, value: Any) -> float:
        return float(value)


def _bound(bound: float | str, record: Any) -> float:
    return getattr(record, bound) if isinstance(bound, str) else bound


def _bound_text(bound: float | str, record: Any) -> str:
    if isinstance(bound, str):
        return bound if record is None else f"{bound} = {getattr(record, bound):g}"
    return f"{bound:g}"


@dataclass(frozen=True)
class Integer(Check):
    """An integer >= ``low``."""

    low: int = 1

    def valid(self, value: Any, record: Any) -> bool:
        return _is_int(value) and value >= self.low

    def describe(self, record: Any = None) -> str:
        return f"an integer >= {self.low}"

    def convert(self, value: Any) -> int:
        return int(value)


@dataclass(frozen=True)
class OneOf(Check):
    """One of a few fixed values."""

    values: tuple[Any, ...]

    def valid(self, value: Any, record: Any) -> bool:
        return any(value == choice and type(value) is type(choice) for choice in self.values)

    def describe(self, record: Any = None) -> str:
        if len(self.values) == 1:
            return repr(self.values[0])
        return "one of " + ", ".join(map(repr, self.values))


@dataclass(frozen=True)
class AnyOf(Check):
    """A value that one of ``checks`` accepts (the first that does converts it)."""

    checks: tuple[Check, ...]

    @property
    def error(self) -> type[Exception]:  # type: ignore[override]
        """The error of the last alternative (a TypeError for an optional callable)."""
        return self.checks[-1].error

    def valid(self, value: Any, record: Any) -> bool:
        return any(check.valid(value, record) for check in self.checks)

    def describe(self, record: Any = None) -> str:
        return " or ".join(check.describe(record) for check in self.checks)

    def convert(self, value: Any) -> Any:
        return next(check.convert(value) for check in self.checks if check.valid(value, None))


@dataclass(frozen=True)
class Pair(Check):
    """Two values, each accepted by ``item``."""

    item: Check

    def valid(self, value: Any, record: Any) -> bool:
        return (
            isinstance(value, tuple | list)
            and len(value) == 2
            and all(self.item.valid(v, record) for v in value)
        )

    def describe(self, record: Any = None) -> str:
        return f"a pair, each {self.item.describe(record)}"

    def convert(self, value: Any) -> tuple[Any, Any]:
        return tuple(self.item.convert(v) for v in value)


class Boolean(Check):
    """True or False."""

    def valid(self, value: Any, record: Any) -> bool:
        return isinstance(value, bool | numpy.bool_)

    def describe(self, record: Any = None) -> str:
        return "True or False"

    def convert(self, value: Any) -> bool:
        return bool(value)


class Function(Check):
    """A callable (a TypeError otherwise)."""

    error = TypeError

    def valid(self, value: Any, record: Any) -> bool:
        return callable(value)

    def describe(self, record: Any = None) -> str:
        return "callable"


class Dictionary(Check):
    """A mapping (a TypeError otherwise); its entries are checked by whoever reads them."""

    error = TypeError

    def valid(self, value: Any, record: Any) -> bool:
        return isinstance(value, Mapping)

    def describe(self, record: Any = None) -> str:
        return "a mapping"


NONE = OneOf((None,))
POSITIVE = Number(0.0, low_open=True)
FRACTION = Number(0.0, 1.0, high_open=True)
"""[0, 1): momentum and decay factors."""


def optional(check: Check) -> AnyOf:
    """``None`` or a value ``check`` accepts."""
    return AnyOf((NONE, check))


# -- the declaration ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Derived:
    """A default computed from the problem: ``rule(meta)`` with the model's ``meta`` (dtype, nvar)."""

    text: str
    rule: Callable[[Any], Any]


def parameter(default: Any, doc: str, check: Check, *, source: str = "") -> Any:
    """A field of a parameter record: its default (or :class:`Derived` rule), what it means, the
    values it may take and where the default comes from."""
    metadata = {"doc": doc, "check": check, "source": source}
    if isinstance(default, Derived):
        return dataclasses.field(default=None, metadata={**metadata, "derived": default})
    if isinstance(default, list | dict | set):
        raise TypeError(f"parameter defaults must be immutable, got {default!r}")
    return dataclasses.field(default=default, metadata=metadata)


def declared(cls: type) -> type:
    """Makes ``cls`` a frozen keyword-only dataclass of :func:`parameter` fields and appends the
    parameter lines (:func:`doc_lines`) to its docstring."""
    record = dataclass(frozen=True, kw_only=True)(cls)
    undeclared = [f.name for f in dataclasses.fields(record) if "check" not in f.metadata]
    if undeclared:
        raise TypeError(f"{cls.__name__}: declare {', '.join(undeclared)} with parameter()")
    lines = "\n".join(f"    {line}" for line in doc_lines(record))
    record.__doc__ = f"{(cls.__doc__ or cls.__name__).rstrip()}\n\nParameters:\n\n{lines}\n"
    return record


def default_text(field: dataclasses.Field) -> str:
    """The default of a field in words: the derivation rule, or the value."""
    derived = field.metadata.get("derived")
    return derived.text if derived is not None else repr(field.default)


def doc_lines(record: type) -> list[str]:
    """One line per parameter: name, meaning, valid values, default and its source."""
    lines = []
    for field in dataclasses.fields(record):
        meta = field.metadata
        source = f" ({meta['source']})" if meta["source"] else ""
        lines.append(
            f"{field.name}: {meta['doc']}; {meta['check'].describe()}; default {default_text(field)}{source}"
        )
    return lines


def defaults(record: type) -> dict[str, Any]:
    """The declared defaults by name (``None`` where the default is derived from the problem)."""
    return {field.name: field.default for field in dataclasses.fields(record)}


def checked(owner: str, record: Any, meta: Any) -> Any:
    """``record`` with derived defaults filled in from the model's ``meta`` and every value checked
    and converted; the error names ``owner`` (the solver), the parameter and the valid values."""
    fields = dataclasses.fields(record)
    derived = {
        f.name: f.metadata["derived"].rule(meta)
        for f in fields
        if "derived" in f.metadata and getattr(record, f.name) is None
    }
    record = dataclasses.replace(record, **derived)
    values: dict[str, Any] = {}
    for field in fields:
        value, check = getattr(record, field.name), field.metadata["check"]
        if not check.valid(value, record):
            raise check.error(f"{owner}: {field.name} must be {check.describe(record)}, got {value!r}")
        values[field.name] = check.convert(value)
    return dataclasses.replace(record, **values)


def split(owner: str, options: Mapping[str, Any], records: Mapping[type, tuple[str, ...]]) -> list[Any]:
    """``options`` split among parameter records, each record built from the names it takes (a
    subset of its fields); a TypeError names every unknown option and lists the valid ones."""
    known = {name for names in records.values() for name in names}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(
            f"{owner}: unknown option(s) {', '.join(unknown)}; valid options: {', '.join(sorted(known))}"
        )
    return [cls(**{k: v for k, v in options.items() if k in names}) for cls, names in records.items()]
