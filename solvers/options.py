"""The options every solver takes, checked before anything is evaluated.

``atol``, ``rtol`` (None: sqrt(eps) of the model's dtype), ``max_eval`` (-1: none), ``max_iter``,
``max_time`` (seconds, 30 by default), ``max_epochs``, ``callback(nlp, solver, stats)``, ``verbose``
(print a row every k iterations, 0: silent), ``eval_every`` and, for deterministic solvers,
``resample`` (see :mod:`solvers.schedule`).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

COMMON_DEFAULTS: dict[str, Any] = {
    "atol": None,
    "rtol": None,
    "max_eval": -1,
    "max_iter": None,
    "max_time": 30.0,  # JSOSolvers.jl's default time budget
    "max_epochs": None,
    "callback": None,
    "verbose": 0,
    "eval_every": "epoch",
}
DETERMINISTIC_ONLY = {"resample": None}


@dataclass(frozen=True)
class CommonOptions:
    atol: float | None
    rtol: float | None
    max_eval: int
    max_iter: int | None
    max_time: float | None
    max_epochs: int | None
    callback: Callable[..., Any] | None
    verbose: int
    eval_every: Any
    resample: Any


def parse(
    solver: str, options: Mapping[str, Any], params: Mapping[str, Any], stochastic: bool
) -> CommonOptions:
    """The common options with defaults filled in; a TypeError names any unknown option."""
    known = dict(COMMON_DEFAULTS)
    if not stochastic:
        known.update(DETERMINISTIC_ONLY)
    unknown = sorted(set(options) - set(known))
    if unknown:
        valid = ", ".join(sorted(set(known) | set(params)))
        raise TypeError(f"{solver}: unknown option(s) {', '.join(unknown)}; valid options: {valid}")
    values = {**known, **options}
    values.setdefault("resample", None)
    callback = values["callback"]
    if callback is not None and not callable(callback):
        raise TypeError(f"{solver}: callback must be callable(nlp, solver, stats), got {callback!r}")
    verbose = values["verbose"]
    if not isinstance(verbose, numbers.Integral) or isinstance(verbose, bool) or verbose < 0:
        raise ValueError(f"{solver}: verbose must be an integer >= 0, got {verbose!r}")
    return CommonOptions(**values)
