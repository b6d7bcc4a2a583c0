"""Interrupts: SIGTERM read as Ctrl-C, Ctrl-C ignored while the command saves its files, and both
recorded as a request to stop in a data-parallel run.

A run stopped by ``kill`` or by a job scheduler's time limit (SIGTERM) saves what it has, as after
Ctrl-C: :func:`terminate_as_interrupt` turns SIGTERM into a KeyboardInterrupt for the command.
The files are written atomically anyway; ignoring SIGINT and SIGTERM while they are written makes
sure a second signal cannot leave the run without its checkpoint and metrics. Outside the main
thread (where signal handlers cannot be set) nothing changes.

The ranks of an MPI job must stop at the same iteration: there :func:`deferred` makes either signal
a request (:class:`Requests`) that the ranks agree on after each iteration
(:mod:`minidnn.cli.parallel`); a second signal calls the given function (which aborts the job).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator


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


class Requests:
    """The signals a process received while they are deferred: the first is a request to stop, a
    second one calls ``on_second``."""

    def __init__(self, on_second: Callable[[], None]):
        self.on_second = on_second
        self.count = 0

    @property
    def made(self) -> bool:
        """True once a signal has come."""
        return self.count > 0

    def __call__(self, number: int, frame: object) -> None:
        self.count += 1
        if self.count > 1:
            self.on_second()


@contextlib.contextmanager
def deferred(on_second: Callable[[], None]) -> Iterator[Requests]:
    """SIGINT and SIGTERM recorded, not raised, inside the ``with`` block (in the main thread)."""
    requests = Requests(on_second)
    if threading.current_thread() is not threading.main_thread():
        yield requests
        return
    previous = {number: signal.signal(number, requests) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requests
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
