"""Where the command's text goes: one sink per stream that survives a reader who went away.

``minidnn train | head -3`` closes the pipe after three lines; the next write to stdout raises
BrokenPipeError. Text is only a view of the run: the run goes on, its files are written, and the
exit code is that of the run (0 when it finished). :func:`guarded` puts a :class:`Sink` in place of
``sys.stdout`` and ``sys.stderr`` for the whole command, so every ``print`` (the header, the
progress rows, a solver's own iteration table, the summary, argparse's help) goes through it. On the
first broken pipe the sink points the stream's file descriptor at the null device (what Python's
documentation advises for SIGPIPE), so neither later writes nor the interpreter's final flush raise,
and it drops the rest of the text. A stream closed before the command started (``>&-``, then
``sys.stdout`` is ``None``) is a sink that drops everything. So are both streams of the ranks other
than rank 0 in a data-parallel run (``guarded(silent=True)``): only rank 0 prints, and a rank's
fatal error reaches the real ``sys.__stderr__`` (:mod:`minidnn.cli.parallel`).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import TextIO


class Sink(io.TextIOBase):
    """A text stream that forwards to ``stream`` until the reader goes away, then drops the text."""

    def __init__(self, stream: TextIO | None):
        super().__init__()
        self.stream = stream
        self.lost = stream is None

    def write(self, text: str) -> int:
        if not self.lost:
            try:
                self.stream.write(text)
            except (BrokenPipeError, ValueError):
                self._lose()
        return len(text)

    def flush(self) -> None:
        if not self.lost:
            try:
                self.stream.flush()
            except (BrokenPipeError, ValueError):
                self._lose()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        """True while the text reaches a terminal (in-place progress lines need one)."""
        if self.lost:
            return False
        try:
            return self.stream.isatty()
        except ValueError:
            return False

    def _lose(self) -> None:
        """Drops all further text, and points the stream's descriptor at the null device so that
        the text still in Python's buffer is flushed there at exit without an error."""
        self.lost = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, self.stream.fileno())
            finally:
                os.close(null)


@contextlib.contextmanager
def guarded(silent: bool = False) -> Iterator[None]:
    """Puts a :class:`Sink` in place of ``sys.stdout`` and ``sys.stderr`` for the ``with`` block;
    with ``silent``, sinks that drop everything."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (Sink(None), Sink(None)) if silent else (Sink(saved[0]), Sink(saved[1]))
    try:
        yield
    finally:
        for sink in (sys.stdout, sys.stderr):
            sink.flush()
        sys.stdout, sys.stderr = saved
