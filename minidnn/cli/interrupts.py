"""Interrupts: SIGTERM read as Ctrl-C, and Ctrl-C ignored while the command saves its files.

A run stopped by ``kill`` or by a job scheduler's time limit (SIGTERM) saves what it has, as after
Ctrl-C: :func:`terminate_as_interrupt` turns SIGTERM into a KeyboardInterrupt for the command.
The files are written atomically anyway; ignoring SIGINT and SIGTERM while they are written makes
sure a second signal cannot leave the run without its checkpoint and metrics. Outside the main
thread (where signal handlers cannot be set) nothing changes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignores SIGINT and SIGTERM inside the ``with`` block, then restores the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _interrupt(number: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt inside the ``with`` block (in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
