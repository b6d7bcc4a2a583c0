"""Checkpoint files: what ``minidnn train`` saves, read back and checked, from Python or the command.

A checkpoint is a NumPy ``.npz`` archive (read with ``allow_pickle=False``) whose members are:

``format``     the text ``"minidnn-checkpoint/2"``
``vector``     the flat parameter vector, one axis, float32 or float64, every entry finite
``layout``     JSON text: the parameters' ``names``, ``shapes`` and ``offsets`` in the vector
``settings``   JSON text: the run's settings (``model``, ``hidden``, ``activation``, ``pool``,
               ``seed``, ``dtype`` define the network; the rest are the command's own)
``state``      JSON text: ``iterations`` (>= 0), ``epoch`` (0..iterations), ``time`` (seconds,
               finite, >= 0), ``status``, ``message``, ``runs`` (a list of records, one per part of
               the run) and ``solver_state`` (``None``, or the solver's state where the run stopped,
               see :mod:`minidnn.solvers.driver`)
``history``    JSON text: the per-iteration history, columns of equal length
``array.<path>``  each array of ``solver_state``, whose JSON holds ``{"array": "<path>"}`` in its place

Text members are stored as NumPy strings (format 1 stored them as UTF-8 bytes; it is read too).
Every member is checked against this schema when read: a file that is missing, not an archive, or
holds a member of the wrong type, range or size, or a value that is not finite, is a
:class:`CheckpointError` that names the file and the member (and the entry within it).

:func:`load_checkpoint` also rebuilds the network from the settings (``minidnn.models`` presets)
and the layout (an mlp's sizes are those of its weights) and loads the vector into it.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy

from minidnn import models
from minidnn.network import Network

FORMAT = "minidnn-checkpoint/2"
READABLE = (FORMAT, "minidnn-checkpoint/1")
TEXT_MEMBERS = ("layout", "settings", "state", "history")
ARRAY_PREFIX = "array."


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or breaks the schema; the message names the file and the
    member (``path`` and ``member`` hold them)."""

    def __init__(self, path: Path, member: str | None, problem: str):
        super().__init__(f"{path} {problem}" if member is None else f"{path}: {member}: {problem}")
        self.path = path
        self.member = member


@dataclass
class Checkpoint:
    """A checkpoint's contents (see the module docstring); ``network`` is set by
    :func:`load_checkpoint` (a :class:`~minidnn.Network` holding ``vector``), ``None`` otherwise."""

    vector: numpy.ndarray
    layout: dict[str, list[Any]]
    settings: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list[Any]] = field(default_factory=dict)
    network: Network | None = None

    @property
    def solver_state(self) -> dict[str, Any] | None:
        """The solver's state where the run stopped (arrays as NumPy arrays), or ``None``."""
        return self.state.get("solver_state")


def load_checkpoint(path: str | os.PathLike[str], backend: str = "numpy") -> Checkpoint:
    """Reads and checks the checkpoint at ``path`` and rebuilds its network on ``backend``.

    Returns a :class:`Checkpoint`: ``network`` (the trained network, its parameters set to the
    saved vector, in the run's dtype), ``vector`` (a host NumPy copy), ``settings``, ``state``
    (iterations, epoch, time, status, the solver's state), ``history`` and ``layout``. A
    :class:`CheckpointError` naming the file and the member when anything is wrong.
    """
    checkpoint = read(path)
    checkpoint.network = rebuild_network(Path(path), checkpoint, backend)
    return checkpoint


def read(path: str | os.PathLike[str]) -> Checkpoint:
    """The checked contents of the checkpoint at ``path`` (no network is built)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, None, "does not exist")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(path, None, "is not a minidnn checkpoint (not an .npz archive)")
    try:
        with numpy.load(path, allow_pickle=False) as archive:
            members = {name: numpy.array(archive[name]) for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise CheckpointError(path, None, f"is not a readable archive ({err})") from None
    return _checked(path, members)


def write(file: IO[bytes], checkpoint: Checkpoint) -> None:
    """Writes ``checkpoint`` (host arrays) to the open binary ``file`` in the format above."""
    arrays: dict[str, numpy.ndarray] = {}
    state = dict(checkpoint.state)
    state["solver_state"] = _split_arrays(state.get("solver_state"), "", arrays)
    texts = {
        "layout": checkpoint.layout,
        "settings": checkpoint.settings,
        "state": state,
        "history": checkpoint.history,
    }
    members = {name: numpy.array(json.dumps(value, allow_nan=False)) for name, value in texts.items()}
    members.update({ARRAY_PREFIX + name: array for name, array in arrays.items()})
    numpy.savez_compressed(file, format=numpy.array(FORMAT), vector=checkpoint.vector, **members)


def rebuild_network(path: Path, checkpoint: Checkpoint, backend: str = "numpy") -> Network:
    """The preset network of the checkpoint's settings, checked against its layout, holding its
    vector, on ``backend`` in the settings' dtype."""
    settings, layout = checkpoint.settings, checkpoint.layout
    name = settings.get("model")
    try:
        if name == "mlp":
            shapes = layout["shapes"]
            sizes = (shapes[0][1], *(shape[0] for shape in shapes[0::2]))
            network = models.mlp(sizes, activation=settings.get("activation", "relu"))
        elif name == "lenet5":
            network = models.lenet5(
                activation=settings.get("activation", "relu"), pool=settings.get("pool", "max")
            )
        else:
            network = models.PRESETS[name]()
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise CheckpointError(path, "settings", f"cannot build model {name!r}: {err}") from None
    built = layout_of(network)
    for key in ("names", "shapes", "offsets"):
        if layout[key] != built[key]:
            raise CheckpointError(
                path, "layout", f"the {key} do not match the network its settings build ({name})"
            )
    network = network.copy(backend, str(checkpoint.vector.dtype))
    network.load(network.backend.to_device(checkpoint.vector))
    return network


def layout_of(network: Network) -> dict[str, list[Any]]:
    """A network's layout as JSON-ready lists."""
    layout = network.layout
    return {
        "names": list(layout.names),
        "shapes": [list(shape) for shape in layout.shapes],
        "offsets": list(layout.offsets),
    }


# -- the schema ----------------------------------------------------------------------------------------
def _checked(path: Path, members: dict[str, numpy.ndarray]) -> Checkpoint:
    for name in ("format", "vector", *TEXT_MEMBERS):
        if name not in members:
            raise CheckpointError(path, name, "missing")
    found = _text(path, "format", members["format"])
    if found not in READABLE:
        raise CheckpointError(path, "format", f"{found!r}, expected {FORMAT!r}")
    parts = {name: _json(path, name, members[name]) for name in TEXT_MEMBERS}
    layout = _checked_layout(path, parts["layout"])
    vector = _checked_vector(path, members["vector"], layout)
    settings = parts["settings"]
    if not isinstance(settings, dict) or not all(
        isinstance(settings.get(k), str) for k in ("dataset", "model")
    ):
        raise CheckpointError(path, "settings", "a mapping naming the dataset and the model is expected")
    arrays = {
        name[len(ARRAY_PREFIX) :]: array for name, array in members.items() if name.startswith(ARRAY_PREFIX)
    }
    state = _checked_state(path, parts["state"], arrays)
    history = _checked_history(path, parts["history"])
    return Checkpoint(vector, layout, settings, state, history)


def _checked_layout(path: Path, layout: Any) -> dict[str, list[Any]]:
    if not isinstance(layout, dict):
        raise CheckpointError(path, "layout", "a mapping of names, shapes and offsets is expected")
    names, shapes, offsets = (layout.get(key) for key in ("names", "shapes", "offsets"))
    if not (isinstance(names, list) and isinstance(shapes, list) and isinstance(offsets, list)):
        raise CheckpointError(path, "layout", "names, shapes and offsets must be lists")
    if not (len(names) == len(shapes) == len(offsets)) or not names:
        raise CheckpointError(path, "layout", "names, shapes and offsets must be non-empty and of one length")
    if not all(isinstance(name, str) for name in names) or len(set(names)) != len(names):
        raise CheckpointError(path, "layout.names", "must be distinct strings")
    start = 0
    for i, (shape, offset) in enumerate(zip(shapes, offsets)):
        if not isinstance(shape, list) or not all(_is_int(n) and n >= 1 for n in shape):
            raise CheckpointError(path, f"layout.shapes[{i}]", f"must be a list of sizes >= 1, got {shape!r}")
        if offset != start or not _is_int(offset):
            raise CheckpointError(path, f"layout.offsets[{i}]", f"must be {start}, got {offset!r}")
        start += math.prod(shape)
    layout["nvar"] = start
    return layout


def _checked_vector(path: Path, vector: numpy.ndarray, layout: dict[str, Any]) -> numpy.ndarray:
    if vector.dtype not in (numpy.float32, numpy.float64) or vector.ndim != 1:
        raise CheckpointError(
            path,
            "vector",
            f"one axis of float32 or float64 expected, got {vector.dtype} of shape {vector.shape}",
        )
    nvar = layout.pop("nvar")
    if vector.size != nvar:
        raise CheckpointError(path, "vector", f"holds {vector.size} values, the layout {nvar}")
    bad = numpy.flatnonzero(~numpy.isfinite(vector))
    if bad.size:
        raise CheckpointError(
            path, "vector", f"{bad.size} of {vector.size} values are not finite (the first at index {bad[0]})"
        )
    return vector


def _checked_state(path: Path, state: Any, arrays: dict[str, numpy.ndarray]) -> dict[str, Any]:
    if not isinstance(state, dict):
        raise CheckpointError(path, "state", "a mapping is expected")
    iterations = _entry(path, state, "iterations", 0, lambda v: _is_int(v) and v >= 0, "an integer >= 0")
    _entry(
        path,
        state,
        "epoch",
        0,
        lambda v: _is_int(v) and 0 <= v <= iterations,
        f"an integer in 0..{iterations}",
    )
    _entry(path, state, "time", 0.0, lambda v: _is_number(v) and 0 <= v < math.inf, "a finite number >= 0")
    for key in ("status", "message"):
        _entry(path, state, key, "", lambda v: isinstance(v, str), "a string")
    _entry(
        path,
        state,
        "runs",
        [],
        lambda v: isinstance(v, list) and all(isinstance(r, dict) for r in v),
        "a list of mappings",
    )
    solver_state = state.get("solver_state")
    if solver_state is not None and not isinstance(solver_state, dict):
        raise CheckpointError(path, "state.solver_state", "a mapping or null is expected")
    state["solver_state"] = _joined_arrays(path, solver_state, "state.solver_state", arrays)
    return state


def _is_history_value(value: Any) -> bool:
    """A history entry: null, a string, a number, or a list of numbers (e.g. recorded eigenvalues)."""
    if value is None or isinstance(value, str) or _is_number(value):
        return True
    return isinstance(value, list) and all(_is_number(item) for item in value)


def _checked_history(path: Path, history: Any) -> dict[str, list[Any]]:
    if not isinstance(history, dict) or not all(isinstance(column, list) for column in history.values()):
        raise CheckpointError(path, "history", "a mapping of columns (lists) is expected")
    if len({len(column) for column in history.values()}) > 1:
        raise CheckpointError(path, "history", "the columns are of different lengths")
    for name, column in history.items():
        if not all(_is_history_value(value) for value in column):
            raise CheckpointError(
                path,
                f"history.{name}",
                "holds a value that is not a number, a string, a list of numbers or null",
            )
    return history


def _entry(path: Path, state: dict[str, Any], key: str, default: Any, valid: Any, expected: str) -> Any:
    value = state.setdefault(key, default)
    if not valid(value):
        raise CheckpointError(path, f"state.{key}", f"must be {expected}, got {value!r}")
    return value


def _split_arrays(value: Any, prefix: str, arrays: dict[str, numpy.ndarray]) -> Any:
    """``value`` with each NumPy array replaced by ``{"array": name}``, the arrays collected."""
    if isinstance(value, numpy.ndarray):
        arrays[prefix] = value
        return {"array": prefix}
    if isinstance(value, Mapping):
        return {
            key: _split_arrays(item, f"{prefix}.{key}" if prefix else key, arrays)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_split_arrays(item, f"{prefix}.{i}", arrays) for i, item in enumerate(value)]
    return value


def _joined_arrays(path: Path, value: Any, where: str, arrays: dict[str, numpy.ndarray]) -> Any:
    """The inverse of :func:`_split_arrays`, every array and number checked finite."""
    if isinstance(value, dict) and set(value) == {"array"}:
        array = arrays.get(value["array"]) if isinstance(value["array"], str) else None
        if array is None:
            raise CheckpointError(path, where, f"names a missing array member {value['array']!r}")
        if array.dtype.kind not in "fiu" or not numpy.all(numpy.isfinite(array)):
            raise CheckpointError(path, where, "the array is not numeric or has NaN or infinite entries")
        return array
    if isinstance(value, dict):
        return {key: _joined_arrays(path, item, f"{where}.{key}", arrays) for key, item in value.items()}
    if isinstance(value, list):
        return [_joined_arrays(path, item, f"{where}.{i}", arrays) for i, item in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise CheckpointError(path, where, f"is {value}, a finite number is expected")
    return value


def _text(path: Path, name: str, array: numpy.ndarray) -> str:
    if array.dtype.kind == "U" and array.ndim == 0:
        return str(array)
    if array.dtype == numpy.uint8 and array.ndim == 1:  # format 1: UTF-8 bytes
        try:
            return array.tobytes().decode("utf-8")
        except UnicodeDecodeError:
            pass
    raise CheckpointError(path, name, f"text expected, got {array.dtype} of shape {array.shape}")


def _json(path: Path, name: str, array: numpy.ndarray) -> Any:
    try:
        return json.loads(_text(path, name, array), parse_constant=_refuse_constant)
    except ValueError as err:
        if isinstance(err, CheckpointError):
            raise
        raise CheckpointError(path, name, f"not valid JSON ({err})") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
