"""The output folder of a run: its default name, and a check that it can be written to.

The default is ``runs/<YYYYmmdd-HHMMSS>-<what>`` under the current folder (``what`` names the data
set, model and solver; a suffix ``-2``, ``-3``, ... avoids reusing a folder). :func:`prepare` makes
the folder and writes and removes a probe file *before* any data is loaded or any training starts,
so an unwritable folder is reported at once; :func:`discard_if_empty` removes a folder it created when
the command failed before writing anything.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from minidnn.cli.errors import CommandError

RUNS = Path("runs")


def default_folder(*parts: str) -> Path:
    """``runs/<timestamp>-<parts joined by '-'>``, made unique with a numeric suffix."""
    stem = "-".join([time.strftime("%Y%m%d-%H%M%S"), *parts])
    folder, k = RUNS / stem, 2
    while folder.exists():
        folder, k = RUNS / f"{stem}-{k}", k + 1
    return folder


def prepare(folder: str | os.PathLike[str]) -> tuple[Path, list[Path]]:
    """Creates ``folder`` (and its parents) and checks that files can be written in it.

    Returns the folder and the folders this call created (for :func:`discard_if_empty`); a
    CommandError naming the folder when it cannot be created or written to.
    """
    path = Path(folder)
    created = [p for p in (path, *path.parents) if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        discard_if_empty(created)
        reason = err.strerror or str(err)
        raise CommandError(f"cannot write to the output folder {path}: {reason}") from None
    return path, created


def discard_if_empty(created: list[Path]) -> None:
    """Removes the folders of ``created`` (deepest first) that are still empty."""
    for folder in created:
        try:
            folder.rmdir()
        except OSError:
            return
