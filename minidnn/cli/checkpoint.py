"""The checkpoint as the command writes and reads it: the file format and its schema are
:mod:`minidnn.checkpoint`'s; here the settings become a :class:`RunSettings`, every fault a
:class:`CommandError` (exit 2) naming the file and the member, and the solver's state goes between
the device and the file.

``state`` holds ``iterations``, ``epoch`` (the model's epoch index at the end), ``time`` (solver
seconds, evaluations excluded), ``status`` and ``message`` of the last part, ``runs`` (one record
per part) and ``solver_state``: the solver's :attr:`~minidnn.solvers.ExecutionStats.state` where the
run stopped (``None`` when it stopped inside an iteration, e.g. Ctrl-C during a step), from which
``--resume`` continues exactly.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy

from minidnn import checkpoint as files
from minidnn.backend import Backend
from minidnn.cli import atomic, jsonio
from minidnn.cli.errors import CommandError
from minidnn.cli.settings import RunSettings
from minidnn.network import Network

NAME = "checkpoint.npz"
layout_of = files.layout_of


@dataclass
class Checkpoint:
    """The contents of a checkpoint file, the settings as a :class:`RunSettings`."""

    vector: numpy.ndarray
    layout: dict[str, list[Any]]
    settings: RunSettings
    state: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list[Any]] = field(default_factory=dict)


def save(path: str | os.PathLike[str], checkpoint: Checkpoint) -> Path:
    """Writes ``checkpoint`` to ``path`` atomically (``state["solver_state"]``: host arrays)."""
    solver_state = checkpoint.state.get("solver_state")
    state = {**jsonio.plain({k: v for k, v in checkpoint.state.items() if k != "solver_state"})}
    state["solver_state"] = solver_state
    contents = files.Checkpoint(
        checkpoint.vector,
        jsonio.plain(checkpoint.layout),
        jsonio.plain(checkpoint.settings.to_dict()),
        state,
        jsonio.plain(checkpoint.history),
    )
    return atomic.write(path, lambda f: files.write(f, contents))


def load(path: str | os.PathLike[str]) -> Checkpoint:
    """Reads and checks a checkpoint; a CommandError naming the file and the member when it is
    missing, not a checkpoint, or breaks the schema."""
    path = Path(path)
    try:
        contents = files.read(path)
    except files.CheckpointError as err:
        if err.member is None and not path.is_file():
            raise CommandError(f"checkpoint {path} does not exist") from None
        raise CommandError(f"{err}\nthe file is not a usable minidnn checkpoint") from None
    try:
        settings = RunSettings.from_dict(contents.settings)
        check_settings(settings)
    except (TypeError, ValueError) as err:
        raise CommandError(f"{path}: settings: {err}\nthe file is not a usable minidnn checkpoint") from None
    return Checkpoint(contents.vector, contents.layout, settings, contents.state, contents.history)


def check_settings(settings: RunSettings) -> None:
    """A ValueError naming the first setting that its flag would not accept (a choice, a type, a
    range); ``None`` passes for the budgets and the optional folders."""
    for spec in dataclasses.fields(RunSettings):
        value = getattr(settings, spec.name)
        flag = spec.metadata.get("flag")
        if flag is None or value is None:
            continue
        if "choices" in flag and value not in flag["choices"]:
            raise ValueError(f"{spec.name} {value!r} is not one of {', '.join(map(str, flag['choices']))}")
        convert = flag.get("type")
        if convert is not None and _refused(convert, value):
            raise ValueError(
                f"{spec.name} {value!r} is not a valid value for --{spec.name.replace('_', '-')}"
            )
        if flag.get("action") == "store_const" and not isinstance(value, bool):
            raise ValueError(f"{spec.name} {value!r} is not true or false")
    if not all(isinstance(key, str) for key in settings.options):
        raise ValueError("the solver options' names are not strings")


def _refused(convert: Any, value: Any) -> bool:
    """True unless ``convert`` (an argparse type) reads the text of ``value`` back as ``value``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | tuple):
        return True
    text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
    try:
        return convert(text) != value
    except (argparse.ArgumentTypeError, TypeError, ValueError):
        return True


def check_layout(path: str | os.PathLike[str], checkpoint: Checkpoint, network: Network) -> None:
    """A CommandError naming ``path`` unless the checkpoint's vector fits ``network`` exactly."""
    expected = layout_of(network)
    for key in ("names", "shapes", "offsets"):
        if checkpoint.layout.get(key) != expected[key]:
            raise CommandError(
                f"{path}: the parameter layout ({key}) does not match the network its settings build "
                f"({checkpoint.settings.model}); was the file written by another version?"
            )
    if checkpoint.vector.shape != (network.nvar,):
        raise CommandError(
            f"{path}: vector: holds {checkpoint.vector.size} values, the network has {network.nvar}"
        )


def on_host(be: Backend, value: Any) -> Any:
    """``value`` (a solver state) with every device array copied to a host NumPy array."""
    if be.owns(value):
        return be.to_host(value)
    if isinstance(value, Mapping):
        return {key: on_host(be, item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [on_host(be, item) for item in value]
    return value


def reported_vector(path: str | os.PathLike[str], checkpoint: Checkpoint) -> tuple[numpy.ndarray, str]:
    """The vector a run reported as its model, and what it is: the average of the iterates when the
    saved state holds one (``--option average=β``), else the saved vector, the last iterate."""
    average = (checkpoint.state.get("solver_state") or {}).get("average")
    if average is None:
        return checkpoint.vector, "the last iterate"
    point = average.get("point") if isinstance(average, dict) else None
    if not isinstance(point, numpy.ndarray) or point.shape != checkpoint.vector.shape:
        raise CommandError(
            f"{path}: solver_state.average: no point of {checkpoint.vector.size} values beside the vector"
        )
    decay = checkpoint.settings.options.get("average")
    return point, f"the exponential average of {average.get('count')} iterates (decay {decay})"
