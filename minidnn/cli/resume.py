"""``minidnn train --resume FILE``: where a resumed run writes, what budget it has left, and where
the model and the solver start.

Rules:

- Output: a new folder by default, beside the checkpoint's (``<folder>-resumed``, then
  ``-resumed-2``, ...); ``--out DIR`` chooses another. The checkpoint's own folder is written to
  only with ``--out`` naming it and ``--overwrite``: the original run is never replaced by accident.
- Budgets are the run's totals, counted from its first iteration: ``--epochs 4`` on a checkpoint
  saved after 2 epochs trains 2 more, and ends where a 4-epoch run ends; likewise ``--max-iter``
  (iterations) and ``--max-time`` (solver seconds). Left out, the checkpoint's totals apply. A
  budget already spent is an error that says so.
- Exactness: when the checkpoint holds the solver's state (``state.solver_state``: the run stopped
  between two iterations: a budget, a stopping test, or Ctrl-C between steps) and the solver and the
  batch size are the same, the run continues exactly: the model at the saved batch of the saved
  epoch, with its generators, and the solver with its moments, quasi-Newton pairs, radius or sigma
  and iteration count; the iterates are those of an uninterrupted run, bit for bit. Otherwise
  (another solver or batch size, or no saved state) the model restarts at the first batch of the
  saved epoch and the solver's state starts afresh.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from minidnn.cli.checkpoint import Checkpoint
from minidnn.cli.errors import CommandError
from minidnn.cli.settings import RunSettings
from minidnn.datasets import DatasetError
from minidnn.nlpmodels import NeuralNetModel

BUDGETS = (("epochs", "epoch", "max_epochs", "epochs"), ("max_iter", "iterations", "max_iter", "iterations"),
           ("max_time", "time", "max_time", "seconds of solver time"))  # fmt: skip
"""(setting, the checkpoint's count of it, solver option, words) of each budget."""


def output_folder(source: Path, out: str | None, overwrite: bool) -> Path:
    """The folder a resumed run writes to (see the module docstring); a CommandError when ``out``
    is the checkpoint's own folder without ``overwrite``."""
    original = source.parent
    if out is None:
        stem, k = f"{original.name}-resumed", 2
        folder = original.with_name(stem)
        while folder.exists():
            folder, k = original.with_name(f"{stem}-{k}"), k + 1
        return folder
    folder = Path(out)
    if not overwrite and folder.resolve() == original.resolve():
        raise CommandError(
            f"--out {out} is the folder of the checkpoint being resumed: its files would be replaced; "
            "add --overwrite to do so, or leave out --out to write to a new folder"
        )
    return folder


def solver_options(settings: RunSettings, resumed: Checkpoint | None) -> dict[str, Any]:
    """The solver's options for this part: the budgets left of the run's totals, and the solver's
    state when it continues exactly."""
    options = settings.solver_options()
    if resumed is None:
        return options
    state = resumed.state
    for setting, done_key, option, words in BUDGETS:
        total = getattr(settings, setting)
        if total is None:
            continue
        left = total - state[done_key]
        if left <= 0:
            raise CommandError(
                f"the run has already used its budget of {total:g} {words} ({state[done_key]:g} done); "
                f"give a larger total with --{setting.replace('_', '-')} (0: no limit)"
            )
        options[option] = left
    if exact(settings, resumed):
        options["state"] = {**resumed.state["solver_state"], "batches": None}
    return options


def exact(settings: RunSettings, resumed: Checkpoint) -> bool:
    """True when the run continues exactly (the solver's state is saved and the solver is the same)."""
    old = resumed.settings
    same = (old.solver, old.batch_size, old.full_batch) == (
        settings.solver,
        settings.batch_size,
        settings.full_batch,
    )
    return resumed.state.get("solver_state") is not None and same


def position_model(nlp: NeuralNetModel, source: Path, resumed: Checkpoint, settings: RunSettings) -> None:
    """Puts the model at the saved batch (exact resume) or at the first batch of the saved epoch."""
    solver_state = resumed.state.get("solver_state")
    saved = solver_state.get("batches") if exact(settings, resumed) else None
    if saved is None:
        saved = nlp.batch_state()
        saved["full_epochs"] = resumed.state["epoch"] if settings.full_batch else 0
        saved["minibatches"] = {**saved["minibatches"], "epoch": resumed.state["epoch"], "batch": 0}
    try:
        size = saved.get("minibatches", {}).get("batch_size") if isinstance(saved, dict) else None
        if isinstance(size, int) and size != nlp.batch_size:  # grown by batch_policy="norm_test"
            nlp.set_batch_size(size)
        nlp.restore_batch_state(saved)
    except (DatasetError, ValueError, TypeError, AttributeError) as err:
        raise unusable(source, err) from None


def unusable(source: Path | None, err: Exception) -> CommandError:
    """The error for a saved solver state that the solver refuses, naming the file and the field."""
    return CommandError(f"{source}: state.solver_state: {err}\nthe file is not a usable minidnn checkpoint")


def describe(source: Path, settings: RunSettings, resumed: Checkpoint) -> str:
    """The header's line about the resumed run."""
    state = resumed.state
    how = (
        "exactly (solver state and batch position restored)"
        if exact(settings, resumed)
        else "at the start of that epoch, the solver's state afresh"
    )
    return f"from {source} at iteration {state['iterations']}, epoch {state['epoch']}, {how}"
