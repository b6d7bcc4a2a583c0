"""``minidnn compare``: one model trained by several solvers, each under the same solver-time budget.

Every solver starts from the same initial weights and sees the same minibatch order: the model is
rebuilt with the same seed for each. Deterministic solvers move to the next minibatch after every
iteration; trunk uses exact Hessian-vector products (see :mod:`minidnn.cli.methods`). The test
accuracy curve comes from copies of the iterate taken at ``--points`` evenly spaced solver times and
evaluated after each run (:mod:`.snapshots`), so evaluations count neither in the budget nor in the
times; the solvers' own per-epoch evaluations are off.

The default reproduces the KnetNLPModels LeNet tutorial on MNIST (LeNet-5, batch 100, 30 s each:
r2, lbfgs and trunk on an LSR1Model) and adds trunk with exact Hessian-vector products, and adam.

Every solver's options are checked on the model before the first run starts; the column titles
come before the first result row.

Output folder (locked for the comparison, :mod:`.outdir`): ``compare.json`` (settings, versions, and
per solver its status, counters, final test accuracy and loss, accuracy curve and history), then
``compare.png`` (needs matplotlib); a file that cannot be written gives exit code 2 with the reason.
Ctrl-C stops the current solver and skips the rest; what was measured is saved, and the exit code is 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from minidnn import backend as _backend
from minidnn import datasets, solvers
from minidnn.cli import arguments, atomic, jsonio, methods, metrics, outdir, plots, problem, progress
from minidnn.cli import train as train_module
from minidnn.cli.errors import INTERRUPTED, OK, CommandError
from minidnn.cli.interrupts import sigint_ignored
from minidnn.cli.settings import COMPARE_DEFAULTS, CompareSettings, RunSettings, resolve
from minidnn.cli.snapshots import Snapshots

TUTORIAL = (
    "KnetNLPModels tutorial (Julia, LeNet-5 on MNIST, 30 s each): lbfgs and trunk on an LSR1Model "
    "reached 0.10-0.80 test accuracy, R2 stayed at chance (about 0.10)"
)
NAME = "compare.json"
PLOT = "compare.png"


@dataclasses.dataclass
class Outcome:
    """One solver's run in a comparison."""

    solver: str
    options: dict[str, Any]
    status: str
    message: str
    iterations: int
    epochs: float
    time: float
    counters: dict[str, int]
    test_accuracy: float | None
    test_loss: float | None
    curve: tuple[list[float], list[float]]
    load: float | None
    history: dict[str, list[Any]]


def run(args: argparse.Namespace, argv: list[str]) -> int:
    """Runs ``minidnn compare``; returns the exit code."""
    common = resolve(arguments.given(args, RunSettings), {}, defaults=COMPARE_DEFAULTS)
    comparison = CompareSettings(**arguments.given(args, CompareSettings))
    per_solver = _solver_options(comparison.solvers, arguments.solver_options(args), args.option)
    folder = (
        Path(common.out) if common.out else outdir.default_folder("compare", common.dataset, common.model)
    )
    with outdir.claimed(folder, fresh=not common.out) as folder:
        common.out = str(folder)
        return _compare_in(folder, common, comparison, per_solver, argv)


def _compare_in(
    folder: Path,
    common: RunSettings,
    comparison: CompareSettings,
    per_solver: dict[str, dict[str, Any]],
    argv: list[str],
) -> int:
    """Checks every solver's options, runs the solvers, saves, prints; returns the exit code."""
    train_data, test_data = _data(common, per_solver)
    outcomes: list[Outcome] = []
    print(_titles(), flush=True)
    try:
        interrupted = _run_solvers(common, per_solver, train_data, test_data, comparison.points, outcomes)
    finally:
        saved, failed = _save_if_any(folder, common, comparison, outcomes, argv)
    if common.dataset == "mnist" and common.model == "lenet5":
        print(f"reference: {TUTORIAL}", flush=True)
    if outcomes:
        print(f"saved in {folder}/: {', '.join(path.name for path in saved)}", flush=True)
    if failed:
        raise CommandError(train_module.unwritten(folder, saved, failed))
    if len(saved) < 2:
        print(plots.NOTE, flush=True)
    if interrupted:
        print(f"interrupted (Ctrl-C or SIGTERM): the results so far are saved in {folder}", flush=True)
        return INTERRUPTED
    return OK


def _data(
    common: RunSettings, per_solver: dict[str, dict[str, Any]]
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """Loads both splits, checks that the model fits them and that every solver accepts its options
    (before the first run spends its budget), and prints the header."""
    try:
        train_data, test_data = problem.load_splits(common)
        network = problem.build_network(common, train_data)
        nlp = problem.build_model(common, network, train_data, test_data)
    except KeyboardInterrupt:
        raise CommandError("interrupted while loading the data: nothing was saved", INTERRUPTED) from None
    for name, options in per_solver.items():
        methods.validate(
            nlp, name, dataclasses.replace(common, solver=name, options=options).solver_options()
        )
    header(common, tuple(per_solver), problem.describe_network(common, network), network.nvar, train_data)
    return train_data, test_data


def _run_solvers(
    common: RunSettings,
    per_solver: dict[str, dict[str, Any]],
    train: datasets.Dataset,
    test: datasets.Dataset,
    points: int,
    outcomes: list[Outcome],
) -> bool:
    """Runs each solver in turn, appending to ``outcomes``; True when Ctrl-C cut the comparison short."""
    for name, options in per_solver.items():
        try:
            outcome = run_one(dataclasses.replace(common, solver=name, options=options), train, test, points)
        except KeyboardInterrupt:
            return True
        outcomes.append(outcome)
        progress.transient(sys.stdout, "")
        print(_row(outcome), flush=True)
        if outcome.status == "user":
            return True
    return False


def _save_if_any(
    folder: Path,
    common: RunSettings,
    comparison: CompareSettings,
    outcomes: list[Outcome],
    argv: list[str],
) -> tuple[list[Path], dict[str, OSError]]:
    """Saves the results (even when a later solver failed); nothing without results."""
    if not outcomes:
        return [], {}
    with sigint_ignored():
        return save(folder, common, comparison, outcomes, argv)


def _solver_options(
    names: tuple[str, ...], flagged: dict[str, Any], entries: list[tuple[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Each solver's options: the command's defaults, then the parameters given by their flags (to
    the solvers that have them), then ``KEY=VALUE``, then ``SOLVER.KEY=VALUE``."""
    for key in flagged:
        if not any(key in methods.parameter_names(name) for name in names):
            flag = "--" + key.replace("_", "-")
            raise CommandError(
                f"{flag}: none of the solvers compared ({', '.join(names)}) has a parameter {key}"
            )
    shared = {key: value for key, value in entries if "." not in key}
    options = {
        name: {
            **methods.default_options(name),
            **{key: value for key, value in flagged.items() if key in methods.parameter_names(name)},
            **shared,
            "eval_every": None,
        }
        for name in names
    }
    for key, value in entries:
        if "." not in key:
            continue
        solver, _, option = key.partition(".")
        if solver not in options:
            raise CommandError(
                f"--option {key}: {solver!r} is not among the solvers compared ({', '.join(names)})"
            )
        options[solver][option] = value
    for chosen in options.values():
        methods.check_options(chosen)
    return options


def header(
    common: RunSettings, names: tuple[str, ...], model: str, nvar: int, train: datasets.Dataset
) -> None:
    """Prints what is about to run."""
    budget = f"{common.max_time:g} s of solver time each" if common.max_time else "no time limit"
    if common.epochs:
        budget += f", at most {progress.plural(common.epochs, 'epoch')}"
    print("minidnn compare", flush=True)
    device = metrics.device_name(_backend.get(common.backend))
    progress.block(
        [
            ("data", f"{common.dataset}: {len(train):,} train images, batch {common.batch_size}"),
            ("model", f"{model}: {nvar:,} parameters, the same initial weights for every solver"),
            ("solvers", ", ".join(names)),
            ("budget", budget),
            ("backend", f"{common.backend} {common.dtype} on {device}"),
            ("output", str(common.out)),
        ]
    )


def run_one(settings: RunSettings, train: datasets.Dataset, test: datasets.Dataset, points: int) -> Outcome:
    """Trains a fresh model with one solver, then evaluates its snapshots and its solution."""
    network = problem.build_network(settings, train)
    nlp = problem.build_model(settings, network, train, test)
    snapshots = Snapshots(settings.max_time, points)
    progress.transient(sys.stdout, f"running {settings.solver} ...")
    try:
        stats = methods.solve(nlp, settings.solver, None, settings.solver_options(), snapshots)
    except KeyboardInterrupt:
        stats = snapshots.stats
        if stats is None:
            raise
        stats.status, stats.message = "user", "interrupted (KeyboardInterrupt)"
    point = solvers.reported_point(stats)
    snapshots.keep(nlp, stats.elapsed_time, point)
    test_loss, test_accuracy = nlp.evaluate(point, "test")
    return Outcome(
        solver=settings.solver,
        options=settings.options,
        status=stats.status,
        message=stats.message,
        iterations=stats.iter,
        epochs=stats.solver_specific.get("epochs") or nlp.epoch,
        time=stats.elapsed_time,
        counters=dict(stats.counters),
        test_accuracy=test_accuracy,
        test_loss=test_loss,
        curve=snapshots.curve(nlp),
        load=_load_average(),
        history=stats.history.as_dict(),
    )


def _load_average() -> float | None:
    """The machine's 1-minute load average at the end of a run (None where the system has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


_TITLES = (("solver", 16), ("status", 11), ("iter", 7), ("epochs", 6), ("f", 7), ("grad", 7), ("Hv", 7),
           ("test acc", 8), ("time", 8))  # fmt: skip


def _row(outcome: Outcome) -> str:
    c = outcome.counters
    cells = (
        outcome.solver,
        outcome.status,
        outcome.iterations,
        f"{outcome.epochs:g}" if float(outcome.epochs).is_integer() else f"{outcome.epochs:.2f}",
        c.get("neval_obj", 0),
        c.get("neval_grad", 0),
        c.get("neval_hprod", 0),
        "-" if outcome.test_accuracy is None else f"{outcome.test_accuracy:.4f}",
        f"{outcome.time:.1f}s",
    )
    return "  ".join(
        f"{cell:<{width}}" if i < 2 else f"{cell:>{width}}"
        for i, (cell, (_, width)) in enumerate(zip(cells, _TITLES))
    )


def _titles() -> str:
    """The column titles of the result rows (evaluations: f, gradient, Hessian-vector products)."""
    return "  ".join(f"{t:<{w}}" if i < 2 else f"{t:>{w}}" for i, (t, w) in enumerate(_TITLES))


def save(
    folder: Path, common: RunSettings, comparison: CompareSettings, outcomes: list[Outcome], argv: list[str]
) -> tuple[list[Path], dict[str, OSError]]:
    """Writes ``compare.json``, then ``compare.png``; returns the paths written and, by file name,
    the errors of those that could not be."""
    record = {
        "command": metrics.command_line(argv),
        "settings": {**common.to_dict(), "solvers": list(comparison.solvers), "points": comparison.points},
        "versions": metrics.versions(_backend.get(common.backend)),
        "reference": TUTORIAL,
        "results": {
            o.solver: {
                **{k: v for k, v in dataclasses.asdict(o).items() if k not in ("curve", "history")},
                "curve": {"time": o.curve[0], "accuracy": o.curve[1]},
                "history": o.history,
            }
            for o in outcomes
        },
    }
    paths: list[Path] = []
    failed: dict[str, OSError] = {}
    train_module.write_into(
        paths, failed, NAME, lambda: atomic.write_text(folder / NAME, jsonio.document(record, depth=3))
    )
    if failed:
        return paths, failed
    title = f"{common.model} on {common.dataset}, batch {common.batch_size}"
    train_module.write_into(
        paths,
        failed,
        PLOT,
        lambda: plots.compare_curves(
            folder / PLOT,
            {o.solver: o.curve for o in outcomes},
            {o.solver: (o.history["time"], o.history["f"]) for o in outcomes},
            title,
        ),
    )
    return paths, failed
