"""Ctrl-C while the command saves its files: ignored until the files are written.

The files are written atomically anyway; ignoring SIGINT for those moments makes sure a second
Ctrl-C cannot leave the run without its checkpoint and metrics. Outside the main thread (where
signal handlers cannot be set) nothing changes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignores SIGINT inside the ``with`` block, then restores the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
