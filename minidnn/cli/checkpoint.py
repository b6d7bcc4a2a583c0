"""The checkpoint: what ``evaluate`` and ``train --resume`` need to rebuild and continue a run.

A compressed NumPy ``.npz`` archive, read back with ``allow_pickle=False``, holding:

``format``    ``"minidnn-checkpoint/1"``
``vector``    the flat parameter vector (a host copy, in the run's dtype)
``layout``    JSON: the parameters' names, shapes and offsets in the vector (``net.layout``)
``settings``  JSON: the run's settings (:class:`~minidnn.cli.settings.RunSettings`)
``state``     JSON: ``iterations``, ``epoch`` (the model's epoch index at the end), ``time`` (solver
              seconds, evaluations excluded), ``status`` and ``message`` of the last run
``history``   JSON: the per-iteration history of the run so far, resumed parts included

A file that is not such an archive, or whose layout does not match the network its settings build,
is a :class:`CommandError` naming the file. The JSON members are stored as UTF-8 bytes (uint8).
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy

from minidnn.cli import atomic, jsonio
from minidnn.cli.errors import CommandError
from minidnn.cli.settings import RunSettings
from minidnn.network import Network

FORMAT = "minidnn-checkpoint/1"
NAME = "checkpoint.npz"
_JSON_FIELDS = ("layout", "settings", "state", "history")


@dataclass
class Checkpoint:
    """The contents of a checkpoint file (see the module docstring)."""

    vector: numpy.ndarray
    layout: dict[str, list[Any]]
    settings: RunSettings
    state: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list[Any]] = field(default_factory=dict)


def layout_of(network: Network) -> dict[str, list[Any]]:
    """The network's layout as JSON-ready lists."""
    layout = network.layout
    return {
        "names": list(layout.names),
        "shapes": [list(shape) for shape in layout.shapes],
        "offsets": list(layout.offsets),
    }


def save(path: str | os.PathLike[str], checkpoint: Checkpoint) -> Path:
    """Writes ``checkpoint`` to ``path`` atomically."""
    texts = {
        "layout": jsonio.dumps(checkpoint.layout),
        "settings": jsonio.dumps(checkpoint.settings.to_dict()),
        "state": jsonio.dumps(checkpoint.state),
        "history": jsonio.dumps(checkpoint.history),
    }
    arrays = {name: _encoded(text) for name, text in {"format": FORMAT, **texts}.items()}
    return atomic.write(path, lambda f: numpy.savez_compressed(f, vector=checkpoint.vector, **arrays))


def load(path: str | os.PathLike[str]) -> Checkpoint:
    """Reads a checkpoint; a CommandError naming the file when it is missing or not a checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"checkpoint {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise CommandError(f"{path} is not a minidnn checkpoint (not an .npz archive)")
    try:
        with numpy.load(path, allow_pickle=False) as archive:
            found = _decoded(archive["format"])
            if found != FORMAT:
                raise ValueError(f"format {found!r}, expected {FORMAT!r}")
            parts = {name: json.loads(_decoded(archive[name])) for name in _JSON_FIELDS}
            vector = numpy.array(archive["vector"])
        settings = RunSettings.from_dict(parts["settings"])
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise CommandError(f"{path} is not a readable minidnn checkpoint: {err}") from None
    if vector.ndim != 1:
        raise CommandError(f"{path}: the parameter vector has shape {vector.shape}, expected one axis")
    return Checkpoint(vector, parts["layout"], settings, parts["state"], parts["history"])


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
            f"{path}: the vector holds {checkpoint.vector.size} values, the network has {network.nvar}"
        )


def _encoded(text: str) -> numpy.ndarray:
    return numpy.frombuffer(text.encode("utf-8"), dtype=numpy.uint8)


def _decoded(array: numpy.ndarray) -> str:
    if array.dtype != numpy.uint8 or array.ndim != 1:
        raise ValueError(f"a text member has dtype {array.dtype} and shape {array.shape}")
    return array.tobytes().decode("utf-8")
