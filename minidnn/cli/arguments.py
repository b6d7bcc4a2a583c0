"""The command line: ``minidnn train | evaluate | compare`` and their flags.

The flags of ``train`` and ``compare`` come from declarations, none is written here by hand:

- a setting's flag from its field of :class:`~minidnn.cli.settings.RunSettings` or
  :class:`~minidnn.cli.settings.CompareSettings` (the :func:`~minidnn.cli.settings.flag` metadata);
- a solver parameter's flag (``--lr``, ``--mem``, ``--line-search``, ...) from the solvers' parameter
  records (``solvers.METHODS[name].parameters``): its help gives the meaning and each solver's default.

Every list of choices comes from the registries (``datasets.NAMES``, ``minidnn.models.PRESETS``,
the solvers of :mod:`minidnn.cli.methods`, :data:`~minidnn.cli.settings.BACKENDS` and ``DTYPE_NAMES``), so an
unknown name is answered with the valid ones. A flag left out is absent from the parsed arguments
(``argparse.SUPPRESS``): :func:`given` and :func:`solver_options` return those present, so that a
resumed run can tell which were given (:func:`minidnn.cli.settings.resolve`).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import minidnn
from minidnn import solvers
from minidnn.cli import values
from minidnn.cli.settings import (
    BACKENDS,
    COMPARE,
    COMPARE_DEFAULTS,
    TRAIN,
    TRAIN_DEFAULTS,
    CompareSettings,
    RunSettings,
)
from minidnn.solvers import parameters as declarations

_EPILOG = f"""\
solvers: the stochastic ones take one step per minibatch: {" ".join(solvers.STOCHASTIC)};
the deterministic ones move to the next minibatch after every iteration (resample=iteration):
{" ".join(solvers.DETERMINISTIC)}. trunk uses the network's exact Hessian-vector products;
trunk-lsr1 (= lsr1) is trunk on an L-SR1 model, as in the KnetNLPModels tutorial; both cap their
inner CG at cg_max_iter=20. On minibatches the gradient test is off (atol=0, rtol=0): the budget
ends the run. A run needs at least one budget (--epochs, --max-time, --max-iter; 0 is no limit), or
--forever to run until Ctrl-C. Each solver's own parameters have flags (solver options); any other
option of the solvers goes through --option KEY=VALUE (e.g. --option atol=1e-5 or --option
eval_every=100).
"""

_SOLVER_OPTION = "solver option "
"""The prefix of the destination of a solver parameter's flag."""


def build() -> argparse.ArgumentParser:
    """The parser of the whole command."""
    parser = argparse.ArgumentParser(
        prog="minidnn",
        description="Train neural networks with smooth optimization solvers (NumPy or CuPy).",
    )
    parser.add_argument("--version", action="version", version=f"minidnn {minidnn.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{train,evaluate,compare}")
    _train(commands)
    _evaluate(commands)
    _compare(commands)
    return parser


def _train(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        TRAIN,
        help="train a network; with no arguments: an MLP on the shipped digits with Adam",
        description="Train a network with one solver. With no arguments: an MLP 64-64-10 on the\n"
        "shipped 8x8 digits, Adam, batch 32, 30 epochs (a few seconds).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _setting_flags(p, RunSettings, TRAIN_DEFAULTS, TRAIN, {})
    _solver_flags(p, "a solver option, e.g. atol=1e-5 or betas=0.9,0.99 (repeatable)", "KEY=VALUE")
    p.add_argument(
        "--resume",
        default=None,
        type=values.path,
        metavar="FILE",
        help="continue the run saved in this checkpoint.npz, exactly where it stopped, into a new folder "
        "(budgets are the run's totals)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="with --resume and --out naming the checkpoint's folder: replace its files",
    )


def _evaluate(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "evaluate",
        help="loss and accuracy of a saved checkpoint on a split",
        description="Rebuild the network of a checkpoint and report its loss and accuracy on a split.",
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        type=values.path,
        metavar="FILE",
        help="a checkpoint.npz written by train",
    )
    p.add_argument("--split", choices=("test", "train"), default="test", help="the split (default test)")
    p.add_argument(
        "--data-dir",
        type=values.path,
        metavar="DIR",
        help="folder holding the data set (default: the checkpoint's)",
    )
    p.add_argument(
        "--no-download",
        dest="download",
        action="store_const",
        const=False,
        help="never download missing data files",
    )
    p.add_argument("--backend", choices=BACKENDS, help="array backend (default: the checkpoint's)")


def _compare(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        COMPARE,
        help="train one model with several solvers under the same time budget",
        description="Train the same model (same initial weights, same batches) with several solvers,\n"
        "each under the same solver-time budget; print a table and plot test accuracy against time.\n"
        "The default reproduces the KnetNLPModels LeNet tutorial on MNIST (LeNet-5, batch 100,\n"
        "30 s each) and adds trunk with exact Hessian-vector products and adam.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    groups = _setting_flags(p, RunSettings, COMPARE_DEFAULTS, COMPARE, {})
    _setting_flags(p, CompareSettings, CompareSettings(), COMPARE, groups)
    _solver_flags(
        p,
        "a solver option for all solvers, or for one with a SOLVER. prefix (repeatable)",
        "[SOLVER.]KEY=VALUE",
        each=";\na parameter's flag sets it for every compared solver that has it",
    )


def _setting_flags(
    parser: argparse.ArgumentParser,
    record: type,
    defaults: Any,
    command: str,
    groups: dict[str, argparse._ArgumentGroup],
) -> dict[str, argparse._ArgumentGroup]:
    """Adds a flag for each field of ``record`` that ``command`` offers; returns the groups by title."""
    for field in dataclasses.fields(record):
        spec = field.metadata.get("flag")
        if spec is None or command not in spec["commands"]:
            continue
        group = groups.get(spec["group"]) or groups.setdefault(
            spec["group"], parser.add_argument_group(spec["group"])
        )
        options = {key: spec[key] for key in ("type", "choices", "metavar", "action", "const") if key in spec}
        group.add_argument(
            spec.get("option", "--" + field.name.replace("_", "-")),
            dest=field.name,
            default=argparse.SUPPRESS,
            help=spec["help"] + _shown(spec, getattr(defaults, field.name), command),
            **options,
        )
    return groups


def _shown(spec: dict[str, Any], default: Any, command: str) -> str:
    """`` (default ...)`` for a flag's help: the declared text, else the command's default value."""
    shown = spec["shown"]
    if isinstance(shown, dict):
        shown = shown[command]
    if shown is None:
        shown = _text(default)
    return f" (default {shown})" if shown else ""


def _text(value: Any) -> str:
    if value is None:
        return "no limit"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _solver_flags(
    parser: argparse.ArgumentParser, option_help: str, option_metavar: str, each: str = ""
) -> None:
    """``--option`` and one flag per solver parameter, declared by the solvers' parameter records."""
    group = parser.add_argument_group(
        "solver options", f"each solver's own parameters, with their defaults per solver{each}"
    )
    for name, declared in solver_parameters().items():
        group.add_argument(
            "--" + name.replace("_", "-"),
            dest=_SOLVER_OPTION + name,
            type=values.parse_value,
            default=argparse.SUPPRESS,
            metavar=name.upper(),
            help=_parameter_help(declared),
        )
    group.add_argument(
        "--option",
        type=values.key_value,
        action="append",
        default=[],
        metavar=option_metavar,
        help=option_help,
    )


def solver_parameters() -> dict[str, list[tuple[str, dataclasses.Field]]]:
    """Each solver parameter's name, with the solvers that declare it and their fields."""
    found: dict[str, list[tuple[str, dataclasses.Field]]] = {}
    for solver, cls in solvers.METHODS.items():
        for field in dataclasses.fields(cls.parameters):
            found.setdefault(field.name, []).append((solver, field))
    return found


def _parameter_help(declared: list[tuple[str, dataclasses.Field]]) -> str:
    """The meaning of a parameter, then each solver's default: ``step length (sgd 0.1, adam 0.001)``,
    or ``pairs kept (default 5: lbfgs, lsr1)`` when they share it."""
    by_meaning: dict[str, dict[str, list[str]]] = {}
    for solver, field in declared:
        defaults = by_meaning.setdefault(field.metadata["doc"], {})
        defaults.setdefault(declarations.default_text(field), []).append(solver)
    parts = []
    for doc, defaults in by_meaning.items():
        if len(defaults) == 1:
            [(default, names)] = defaults.items()
            parts.append(f"{doc} (default {default}: {', '.join(names)})")
        else:
            parts.append(f"{doc} ({', '.join(f'{n} {d}' for d, names in defaults.items() for n in names)})")
    return "; ".join(parts).replace("%", "%%")


def given(args: argparse.Namespace, record: type) -> dict[str, Any]:
    """The fields of ``record`` given on the command line."""
    present = vars(args)
    return {field.name: present[field.name] for field in dataclasses.fields(record) if field.name in present}


def solver_options(args: argparse.Namespace) -> dict[str, Any]:
    """The solver parameters given by their flags."""
    return {
        key.removeprefix(_SOLVER_OPTION): value
        for key, value in vars(args).items()
        if key.startswith(_SOLVER_OPTION)
    }
