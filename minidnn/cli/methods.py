"""The solvers the command offers, and the defaults it adds to them.

Names: every solver of ``solvers.METHODS``, plus ``trunk-lsr1``, the KnetNLPModels tutorial's name
for trunk on an L-SR1 model of the Hessian (``nlpmodels.LSR1Model``), which is ``solvers.lsr1``.
``trunk`` itself is Newton-CG with the network's exact Hessian-vector products.

Defaults the command adds (shown in the header, saved with the settings; ``--option`` overrides them):

- deterministic solvers (r2, lbfgs, trunk, lsr1): ``resample="iteration"``, a new minibatch after
  every iteration, as the tutorial's callback did (with ``--full-batch`` an iteration is an epoch);
- trunk and lsr1 (trunk-lsr1): ``cg_max_iter=20``. The solver's own cap, max(2n, 50) inner
  iterations, would let one inner solve spend a whole time budget on a network; on an L-SR1 model
  with ``mem`` pairs CG ends within 2 mem + 1 steps in exact arithmetic, so the cap only guards
  against rounding there;
- on minibatches (not ``--full-batch``): ``atol=0, rtol=0``, so the budget ends the run. A small
  gradient on one minibatch says nothing about the training loss (a last batch of two samples is
  fitted exactly within a few epochs), yet the first-order test ‖g‖ ≤ atol + rtol ‖g₀‖ would stop
  the run there. (trunk's inner CG tolerance is floored at rtol, as in JSOSolvers.jl; with rtol=0
  the cap above bounds the inner solves.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minidnn import solvers
from minidnn.cli.errors import CommandError
from minidnn.solvers import driver
from minidnn.solvers import parameters as declarations

ALIASES = {"trunk-lsr1": "lsr1"}
NAMES: tuple[str, ...] = tuple(solvers.METHODS) + tuple(ALIASES)
"""Every solver name the command accepts."""

CG_MAX_ITER = 20
CG_SOLVERS = ("trunk", "lsr1")
"""Solvers with inner CG solves."""
RESERVED = ("callback",)
"""Options the command sets itself."""


def method(name: str) -> str:
    """The ``solvers.METHODS`` key behind a command-line solver name."""
    return ALIASES.get(name, name)


def is_deterministic(name: str) -> bool:
    """True for the solvers that take whole iterations on one batch (r2, lbfgs, trunk, lsr1)."""
    return solvers.METHODS[method(name)].family == "deterministic"


def default_options(name: str, full_batch: bool = False) -> dict[str, Any]:
    """The options the command adds for solver ``name`` (see the module docstring)."""
    options: dict[str, Any] = {} if full_batch else {"atol": 0.0, "rtol": 0.0}
    if is_deterministic(name):
        options["resample"] = "iteration"
    if method(name) in CG_SOLVERS:
        options["cg_max_iter"] = CG_MAX_ITER
    return options


def parameters(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The solver's own parameters with their declared defaults, updated by ``options``."""
    return {**declarations.defaults(solvers.METHODS[method(name)].parameters), **options}


def parameter_names(name: str) -> tuple[str, ...]:
    """The names of the solver's own parameters (its parameter record's fields)."""
    return tuple(declarations.defaults(solvers.METHODS[method(name)].parameters))


def check_options(options: dict[str, Any]) -> None:
    """Refuses the options the command sets itself."""
    taken = sorted(set(options) & set(RESERVED))
    if taken:
        raise CommandError(f"the command sets {', '.join(taken)} itself; remove --option {taken[0]}=...")


def validate(nlp: Any, name: str, options: dict[str, Any]) -> None:
    """Checks solver ``name``'s ``options`` on ``nlp`` without running it; a :class:`CommandError` with
    the solver's own message (which lists the valid options)."""
    check_options(options)
    try:
        driver.check(solvers.METHODS[method(name)], nlp, options)
    except (TypeError, ValueError) as err:
        raise CommandError(_named(name, err)) from None


def _named(name: str, err: Exception) -> str:
    message = str(err)
    return message if message.startswith(method(name)) else f"{name}: {message}"


def solve(
    nlp: Any, name: str, x0: Any, options: dict[str, Any], callback: Callable[..., None]
) -> solvers.ExecutionStats:
    """Runs solver ``name`` on ``nlp`` from ``x0``.

    A TypeError or ValueError raised before the first callback (the solvers check every option
    before evaluating anything) is the user's: it becomes a :class:`CommandError` with the
    solver's own message, which lists the valid options. A ``solvers.StateError`` (a resumed run's
    saved state that does not fit) passes through for the caller to name its file.
    """
    check_options(options)
    started = False

    def watched(model: Any, solver: Any, stats: solvers.ExecutionStats) -> None:
        nonlocal started
        started = True
        callback(model, solver, stats)

    try:
        return solvers.minimize(nlp, method(name), x0, callback=watched, **options)
    except solvers.StateError:
        raise
    except (TypeError, ValueError) as err:
        if started:
            raise
        raise CommandError(_named(name, err)) from None
