"""The output folder of a run: its default name, a check that it can be written to, and a lock.

The default is ``runs/<YYYYmmdd-HHMMSS>-<what>`` under the current folder (``what`` names the data
set, model and solver; a suffix ``-2``, ``-3``, ... avoids reusing a folder). :func:`claimed` makes
the folder and takes its lock *before* any data is loaded or any training starts, so an unwritable
folder, or one another run is writing to, is reported at once; at the end it releases the lock and
removes the folders it created if they are still empty (the command failed before writing anything).

The lock is the file ``.minidnn.lock`` in the folder, created with ``O_CREAT | O_EXCL`` (so of two
runs started together exactly one gets it) and holding the owner's process id and host name; it
doubles as the write probe. Stale-lock rule: a lock whose process no longer runs on this host (a run
killed with SIGKILL, a machine that crashed) is removed and taken over. A lock from another host,
or one that cannot be read, is taken as held: the message names the file to delete by hand when no
run is using it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from minidnn.cli.errors import CommandError

RUNS = Path("runs")
LOCK = ".minidnn.lock"


def default_folder(*parts: str) -> Path:
    """``runs/<timestamp>-<parts joined by '-'>``, made unique with a numeric suffix."""
    stem = "-".join([time.strftime("%Y%m%d-%H%M%S"), *parts])
    folder, k = RUNS / stem, 2
    while folder.exists():
        folder, k = RUNS / f"{stem}-{k}", k + 1
    return folder


@contextlib.contextmanager
def claimed(folder: str | os.PathLike[str], *, fresh: bool = False) -> Iterator[Path]:
    """Creates ``folder`` (and its parents) and holds its lock for the ``with`` block.

    With ``fresh`` (a default folder from :func:`default_folder`), the folder must be new: when
    another run created it first (two runs started in the same second), the next suffix is taken.
    A CommandError naming the folder when it cannot be created or written to, or when another run
    holds its lock. On leaving, the lock is removed and so are the folders this call created that
    are still empty.
    """
    path = Path(folder)
    created = [p for p in path.parents if not p.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh:
            path = _new(path)
            created.insert(0, path)
        else:
            if not path.exists():
                created.insert(0, path)
            path.mkdir(exist_ok=True)
        _lock(path / LOCK)
    except OSError as err:
        discard_if_empty(created)
        reason = err.strerror or str(err)
        raise CommandError(f"cannot write to the output folder {path}: {reason}") from None
    except CommandError:
        discard_if_empty(created)
        raise
    try:
        yield path
    finally:
        (path / LOCK).unlink(missing_ok=True)
        discard_if_empty(created)


def _new(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``, ...: the first that this call creates."""
    candidate, k = path, 2
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            candidate, k = path.with_name(f"{path.name}-{k}"), k + 1


def _lock(lock: Path) -> None:
    """Creates ``lock`` exclusively with this process's id and host; takes over a stale one once."""
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _owner(lock)
            if owner is None or owner[1] != socket.gethostname() or _running(owner[0]):
                held_by = f"process {owner[0]} on {owner[1]}" if owner else "an unknown process"
                raise CommandError(
                    f"the output folder {lock.parent} is in use by another run ({held_by}); wait for it "
                    f"to end or give another --out (if no run is using it, delete {lock})"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its process has ended
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()} {socket.gethostname()}\n")
        return
    raise CommandError(
        f"the output folder {lock.parent} is in use by another run (its lock {lock} came back)"
    )


def _owner(lock: Path) -> tuple[int, str] | None:
    """(process id, host) written in ``lock``; None when it cannot be read."""
    try:
        pid, host = lock.read_text().split()
        return int(pid), host
    except (OSError, ValueError):
        return None


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def discard_if_empty(created: list[Path]) -> None:
    """Removes the folders of ``created`` (deepest first) that are still empty."""
    for folder in created:
        try:
            folder.rmdir()
        except OSError:
            return
