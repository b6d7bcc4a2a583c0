"""``minidnn train``: trains a network with one solver, shows live progress, and writes three files
in the output folder:

    checkpoint.npz   the flat vector, its layout, the settings, the history (:mod:`.checkpoint`)
    metrics.json     settings, versions, per-iteration history, final test loss and accuracy
    curves.png       objective and test accuracy against time and epochs (needs matplotlib)

Order of work: settings, then the output folder is claimed (created, and locked for the run:
nothing is loaded before it is known to be writable and free, :mod:`.outdir`), data, model, solver
run, final test evaluation, files, summary. The files are written in order of need: the checkpoint
first, then the metrics, then the optional plot. A file that cannot be written (a full disk, a
quota) does not stop the others; after the summary the command names the folder, the files that
failed with the reason, and those kept, and exits with 2.

Resuming (``--resume FILE``): the settings come from the checkpoint; flags given on the command line
override them, except those that define the network and its data order
(:data:`~minidnn.cli.settings.FIXED_ON_RESUME`). Budgets are the run's totals; files go to a new
folder unless ``--out`` (and ``--overwrite`` for the checkpoint's own folder) says otherwise; the
run continues exactly where the solver's state was saved (:mod:`.resume`). The history is joined
(:mod:`.history`).

Ctrl-C or SIGTERM stops the solver (status ``user``); the checkpoint, metrics and plot of the run so far are
written, the command says where and exits with 130. Ctrl-C before the first iteration saves nothing.

Data parallelism (``mpiexec -n N minidnn train ...``, :mod:`.parallel`): rank 0 reads the checkpoint
to resume, claims the folder and passes its plan to the other ranks; every rank loads the data and
builds the same model over ``MPI.COMM_WORLD`` and runs the same solver; rank 0 alone prints (header
with the number of ranks, progress, summary) and writes the files. A signal is a request the ranks
agree on after each iteration, so they all stop at the same one and the checkpoint resumes exactly,
with any number of ranks: the model's state (the vector, the batch position, the solver's state) is
the same on every rank and does not depend on their number.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from minidnn import datasets, solvers
from minidnn.cli import (
    arguments,
    history,
    methods,
    metrics,
    outdir,
    parallel,
    plots,
    problem,
    progress,
    resume,
)
from minidnn.cli import checkpoint as checkpoints
from minidnn.cli.errors import INTERRUPTED, OK, CommandError
from minidnn.cli.interrupts import sigint_ignored
from minidnn.cli.settings import RunSettings, resolve
from minidnn.network import Network
from minidnn.nlpmodels import NeuralNetModel, curvature

CURVATURE_PROBES = 10  # Hutchinson probes per record: a standard error of about 30% of the trace's spread


@dataclasses.dataclass
class Session:
    """Everything a training run works with."""

    settings: RunSettings
    folder: Path
    test: datasets.Dataset
    network: Network
    nlp: NeuralNetModel
    x0: Any
    resumed: checkpoints.Checkpoint | None
    source: Path | None
    job: parallel.Job


@dataclasses.dataclass
class Plan:
    """What rank 0 settles before any data is loaded: the settings, the run resumed, the folder."""

    settings: RunSettings
    resumed: checkpoints.Checkpoint | None
    source: Path | None
    folder: Path


def run(args: argparse.Namespace, argv: list[str], job: parallel.Job) -> int:
    """Runs ``minidnn train``; returns the exit code."""
    with contextlib.ExitStack() as claim:
        plan = job.on_root(lambda: _plan(args, claim))
        return _run_in(plan, argv, job)


def _plan(args: argparse.Namespace, claim: contextlib.ExitStack) -> Plan:
    """The settings, the checkpoint to resume and the output folder, claimed until ``claim`` closes."""
    source = Path(args.resume) if args.resume else None
    resumed = checkpoints.load(source) if source else None
    given = arguments.given(args, RunSettings)
    options = {**arguments.solver_options(args), **dict(args.option)}
    settings = resolve(given, options, resumed.settings if resumed else None)
    fresh = "out" not in given and source is None
    if source is not None:
        resume.solver_options(settings, resumed)  # a spent budget is reported before anything is loaded
        settings.out = str(resume.output_folder(source, given.get("out"), args.overwrite))
    elif "out" not in given:
        settings.out = str(outdir.default_folder(settings.dataset, settings.model, settings.solver))
    folder = claim.enter_context(outdir.claimed(settings.out, fresh=fresh))
    settings.out = str(folder)
    return Plan(settings, resumed, source, folder)


def _run_in(plan: Plan, argv: list[str], job: parallel.Job) -> int:
    """Trains into the claimed folder, saves, and prints the summary; returns the exit code."""
    try:
        session = start(plan, job)
        stats = train(session)
    except KeyboardInterrupt:
        raise CommandError("interrupted before training started: nothing was saved", INTERRUPTED) from None
    if stats is None:
        raise CommandError("interrupted before the first iteration: nothing was saved", INTERRUPTED)
    test_loss, test_accuracy = final_evaluation(session, stats)
    asked = job.stop_agreed(session.nlp)  # a collective (on several ranks): asked on every path
    interrupted = stats.status == "user" or test_accuracy is None or asked
    saved = job.on_root(lambda: save_and_report(session, stats, test_loss, test_accuracy, argv))
    if interrupted:
        print(
            f"interrupted (Ctrl-C or SIGTERM): the run so far is saved in {plan.folder}; "
            f"continue it with: minidnn train --resume {saved[0]}",
            flush=True,
        )
        return INTERRUPTED
    return OK


def save_and_report(
    session: Session,
    stats: solvers.ExecutionStats,
    test_loss: float | None,
    test_accuracy: float | None,
    argv: list[str],
) -> list[Path]:
    """Saves the files (signals ignored meanwhile) and prints the summary; returns the paths written,
    or raises a CommandError naming those that could not be."""
    with sigint_ignored():
        saved, failed = save(session, stats, test_loss, test_accuracy, argv)
    summary(session, stats, test_loss, test_accuracy, saved)
    if failed:
        raise CommandError(unwritten(session.folder, saved, failed))
    return saved


def unwritten(folder: Path, saved: list[Path], failed: dict[str, OSError]) -> str:
    """The message for files that could not be written (a full disk, a quota), naming what is kept."""
    reasons = "; ".join(f"{name}: {err.strerror or err}" for name, err in failed.items())
    kept = f"kept: {', '.join(path.name for path in saved)}" if saved else "nothing was saved"
    return f"cannot write in the output folder {folder} ({reasons}); {kept}"


def start(plan: Plan, job: parallel.Job) -> Session:
    """Loads the data, builds the model (at the checkpoint's vector and epoch) and prints the header."""
    settings, resumed, source = plan.settings, plan.resumed, plan.source
    train_data, test_data, network = job.on_every_rank(lambda: _data_and_network(settings))
    nlp = problem.build_model(settings, network, train_data, test_data, job.comm)
    x0 = nlp.meta.x0
    if resumed is not None:
        checkpoints.check_layout(source, resumed, network)
        x0 = nlp.meta.backend.to_device(resumed.vector, dtype=settings.dtype)
        resume.position_model(nlp, source, resumed, settings)
    session = Session(settings, plan.folder, test_data, network, nlp, x0, resumed, source, job)
    if job.root:
        header(session, train_data)
    return session


def _data_and_network(settings: RunSettings) -> tuple[datasets.Dataset, datasets.Dataset, Network]:
    train_data, test_data = problem.load_splits(settings)
    return train_data, test_data, problem.build_network(settings, train_data)


def header(session: Session, train_data: datasets.Dataset) -> None:
    """Prints what is about to run."""
    s, test = session.settings, session.test
    shape = "x".join(map(str, train_data.image_shape))
    items = [
        ("data", f"{s.dataset}: {len(train_data):,} train / {len(test):,} test images of {shape}, "
                 f"{train_data.num_classes} classes"),
        ("model", f"{problem.describe_network(s, session.network)}: {session.network.nvar:,} parameters"),
        ("solver", f"{s.solver} {_options_text(methods.parameters(s.solver, s.options))}".rstrip()),
        ("batches", "full batch" if s.full_batch else f"{s.batch_size} samples, "
                    f"{session.nlp.batches_per_epoch} per epoch, shuffled (seed {s.seed})"),
        ("budget", budget_text(s)),
        ("backend", f"{s.backend} {s.dtype} on {metrics.device_name(session.nlp.meta.backend)}"),
        ("output", str(session.folder)),
    ]  # fmt: skip
    if session.job.size > 1:
        share = f"{session.job.size} MPI processes, each evaluating its share of every batch"
        items.insert(-1, ("ranks", share))
    if session.resumed is not None:
        items.append(("resumed", resume.describe(session.source, session.settings, session.resumed)))
    print("minidnn train", flush=True)
    progress.block(items)


def budget_text(settings: RunSettings) -> str:
    """The budget in words, e.g. ``30 epochs``."""
    parts = []
    if settings.epochs is not None:
        parts.append(progress.plural(settings.epochs, "epoch"))
    if settings.max_time is not None:
        parts.append(f"{settings.max_time:g} s of solver time")
    if settings.max_iter is not None:
        parts.append(progress.plural(settings.max_iter, "iteration"))
    return (
        ", ".join(parts) + " (whichever comes first)"
        if len(parts) > 1
        else (parts or ["none (--forever)"])[0]
    )


def _options_text(options: dict[str, Any]) -> str:
    return " ".join(f"{key}={_value_text(value)}" for key, value in options.items() if value is not None)


def _value_text(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ",".join(map(str, value))
    return str(value)


def train(session: Session) -> solvers.ExecutionStats | None:
    """Runs the solver with live progress; None when Ctrl-C came before the first iteration."""
    state = session.resumed.state if session.resumed else {}
    s = session.settings
    options = resume.solver_options(s, session.resumed)  # the budgets left of the run's totals
    job = session.job
    if not job.root:
        options["verbose"] = 0
    epochs = options.get("max_epochs")
    tracker = progress.Progress(
        s.progress,
        session.nlp.batches_per_epoch,
        progress.Budget(
            None if epochs is None else session.nlp.epoch + epochs,
            options.get("max_time"),
            options.get("max_iter"),
        ),
        iter_offset=int(state.get("iterations", 0)),
        time_offset=float(state.get("time", 0.0)),
        enabled=s.verbose == 0 and job.root,
    )
    callback = tracker if s.curvature_every == 0 else _with_curvature(s.curvature_every, tracker)
    if job.size > 1:
        callback = _stopping_on_request(job, callback)
    try:
        return methods.solve(session.nlp, s.solver, session.x0, options, callback)
    except solvers.StateError as err:
        raise resume.unusable(session.source, err) from None
    except KeyboardInterrupt:
        stats = tracker.stats
        if stats is not None:
            stats.status, stats.message = "user", "interrupted (KeyboardInterrupt)"
        return stats
    finally:
        tracker.close()


def _with_curvature(every: int, tracker: Callable[..., None]) -> Callable[..., None]:
    """The progress callback after a curvature monitor (top eigenvalue, trace with 10 probes, and the
    spectral density at the end) that records every ``every`` iterations into the run's history."""
    monitor = curvature.CurvatureMonitor(every, k=1, probes=CURVATURE_PROBES, density=True)

    def both(nlp: Any, solver: Any, stats: solvers.ExecutionStats) -> None:
        monitor(nlp, solver, stats)
        tracker(nlp, solver, stats)

    return both


def _stopping_on_request(job: parallel.Job, callback: Callable[..., None]) -> Callable[..., None]:
    """``callback``, then the ranks' agreement on a stop request: when any rank has one, every rank
    ends the run here, between two iterations (status ``user``)."""

    def stopping(nlp: Any, solver: Any, stats: solvers.ExecutionStats) -> None:
        callback(nlp, solver, stats)
        if job.stop_agreed(nlp) and not stats.done:
            stats.status, stats.message = "user", "interrupted (Ctrl-C or SIGTERM)"

    return stopping


def final_evaluation(session: Session, stats: solvers.ExecutionStats) -> tuple[float | None, float | None]:
    """Test loss and accuracy at the solution, or at the average of the iterates when the run kept
    one (``--option average=β``); (None, None) when Ctrl-C cuts it short."""
    try:
        return session.nlp.evaluate(solvers.reported_point(stats), "test")
    except KeyboardInterrupt:
        return None, None


def save(
    session: Session,
    stats: solvers.ExecutionStats,
    test_loss: float | None,
    test_accuracy: float | None,
    argv: list[str],
) -> tuple[list[Path], dict[str, OSError]]:
    """Writes the checkpoint, then the metrics, then the plot (the optional file last); returns the
    paths written and, by file name, the errors of those that could not be (e.g. a full disk)."""
    s, nlp = session.settings, session.nlp
    old = session.resumed
    state0 = old.state if old else {}
    iter_offset, time_offset = int(state0.get("iterations", 0)), float(state0.get("time", 0.0))
    joined = history.join(old.history if old else {}, stats.history.as_dict(), iter_offset, time_offset)
    this_run = {
        "solver": s.solver,
        "options": s.options,
        "status": stats.status,
        "message": stats.message,
        "iterations": stats.iter,
        "time": stats.elapsed_time,
        "eval_time": stats.solver_specific.get("eval_time", 0.0),
        "counters": stats.counters,
        "first_iteration": iter_offset,
        "ranks": session.job.size,
    }
    state = {
        "iterations": iter_offset + stats.iter,
        "epoch": nlp.epoch,
        "time": time_offset + stats.elapsed_time,
        "status": stats.status,
        "message": stats.message,
        "runs": [*state0.get("runs", []), this_run],
        "solver_state": checkpoints.on_host(nlp.meta.backend, stats.state),
    }
    vector = nlp.meta.backend.to_host(stats.solution)
    layout = checkpoints.layout_of(session.network)
    paths: list[Path] = []
    failed: dict[str, OSError] = {}
    checkpoint = checkpoints.Checkpoint(vector, layout, s, state, joined)
    write_into(
        paths,
        failed,
        checkpoints.NAME,
        lambda: checkpoints.save(session.folder / checkpoints.NAME, checkpoint),
    )
    if failed:
        return paths, failed  # without the checkpoint the rest would describe a run that cannot go on
    record = {
        "command": metrics.command_line(argv),
        "settings": s.to_dict(),
        "ranks": session.job.size,
        "solver_parameters": methods.parameters(s.solver, s.options),
        "versions": metrics.versions(nlp.meta.backend),
        "status": stats.status,
        "message": stats.message,
        "final": {
            "test_accuracy": test_accuracy,
            "test_loss": test_loss,
            "objective": stats.objective,
            "grad_norm": stats.dual_feas,
            "iterations": state["iterations"],
            "epochs": nlp.epoch,
            "solver_time": state["time"],
        },
        "runs": state["runs"],
        "history": joined,
    }
    write_into(paths, failed, metrics.NAME, lambda: metrics.write(session.folder, record))
    title = f"{s.solver} on {s.dataset}, {problem.describe_network(s, session.network)}"
    write_into(
        paths, failed, "curves.png", lambda: plots.run_curves(session.folder / "curves.png", joined, title)
    )
    if "eigenvalues" in joined:
        spectrum = stats.solver_specific.get("spectral_density")
        write_into(
            paths,
            failed,
            "curvature.png",
            lambda: plots.curvature_curves(session.folder / "curvature.png", joined, spectrum, title),
        )
    return paths, failed


def write_into(
    paths: list[Path], failed: dict[str, OSError], name: str, write: Callable[[], Path | None]
) -> None:
    """Runs ``write``; appends the path written to ``paths``, or records the OSError under ``name``."""
    try:
        path = write()
    except OSError as err:
        failed[name] = err
        return
    if path is not None:
        paths.append(path)


def summary(
    session: Session,
    stats: solvers.ExecutionStats,
    test_loss: float | None,
    test_accuracy: float | None,
    saved: list[Path],
) -> None:
    """Prints how the run ended and where its files are."""
    counters = stats.counters
    evaluations = (
        f"f {counters.get('neval_obj', 0)}, grad {counters.get('neval_grad', 0)}, "
        f"Hv {counters.get('neval_hprod', 0)}"
    )
    eval_time = stats.solver_specific.get("eval_time", 0.0)
    total = ""
    if session.resumed is not None:
        total = f" ({int(session.resumed.state.get('iterations', 0)) + stats.iter} in all)"
    test = (
        "not measured (interrupted)"
        if test_accuracy is None
        else f"accuracy {test_accuracy:.4f}, loss {test_loss:.4f} ({len(session.test):,} images)"
    )
    items = [
        ("status", f"{stats.status}: {stats.message}"),
        (
            "iterations",
            f"{stats.iter}{total}, {progress.plural(session.nlp.epoch, 'epoch')} completed, "
            f"evaluations {evaluations}",
        ),
        ("time", f"{stats.elapsed_time:.2f} s solver + {eval_time:.2f} s test evaluations"),
        ("test", test),
        ("saved", f"{session.folder}/: {', '.join(path.name for path in saved)}"),
    ]
    print("done", flush=True)
    progress.block(items)
    if len(saved) < 3:
        print(plots.NOTE, flush=True)
