"""``metrics.json``: the record of a run, written atomically beside the checkpoint.

Keys: ``command`` (the command line), ``settings`` (every setting, solver options included),
``versions`` (Python, NumPy, SciPy, minidnn, the backend and its device), ``ranks`` (the number of
MPI processes of a data-parallel run, 1 otherwise), ``status`` and ``message``
of the last solver run, ``final`` (test loss and accuracy at the end, iterations, epochs, solver time
and evaluation time), ``runs`` (one entry per solver run: the first and each resumed one, with its
counters and ranks), and ``history``, the per-iteration history of all runs (iterations and times continue
across resumed runs; non-finite values are ``null``).
"""

from __future__ import annotations

import os
import platform
import shlex
from pathlib import Path
from typing import Any

import numpy
import scipy

import minidnn
from minidnn.backend import Backend
from minidnn.cli import atomic, jsonio

NAME = "metrics.json"


def device_name(backend: Backend) -> str:
    """The device the backend computes on, in words."""
    if backend.name == "cupy":
        cuda = backend.xp.cuda
        name = cuda.runtime.getDeviceProperties(cuda.Device().id)["name"]
        return name.decode() if isinstance(name, bytes) else str(name)
    if backend.name == "numpy":
        return f"cpu ({platform.machine()}, {os.cpu_count()} cores)"
    return f"{backend.name} device {backend.device}"


def versions(backend: Backend) -> dict[str, str]:
    """The versions that produced a run."""
    found = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "minidnn": minidnn.__version__,
        "backend": backend.name,
        "device": device_name(backend),
    }
    library = getattr(backend.xp, "__version__", None)
    if backend.name != "numpy" and library is not None:
        found[backend.name] = str(library)
    return found


def command_line(argv: list[str]) -> str:
    """The command with its arguments, quoted for a POSIX shell."""
    return shlex.join(["minidnn", *argv])


def write(folder: Path, metrics: dict[str, Any]) -> Path:
    """Writes ``folder/metrics.json`` atomically."""
    return atomic.write_text(folder / NAME, jsonio.document(metrics))
