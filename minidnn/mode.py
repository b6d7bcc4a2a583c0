"""Grad mode: whether applying a function records a graph node.

Recording is on by default; :func:`no_grad` turns it off inside a ``with`` block (evaluation, solver
line searches), :func:`enable_grad` turns it back on. The flag is per thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager


class _GradMode(threading.local):
    enabled = True


_state = _GradMode()


def is_grad_enabled() -> bool:
    """True when functions applied now record graph nodes."""
    return _state.enabled


@contextmanager
def set_grad_enabled(enabled: bool) -> Iterator[None]:
    """Sets grad mode inside the block and restores the previous mode on exit, even on error."""
    previous = _state.enabled
    _state.enabled = bool(enabled)
    try:
        yield
    finally:
        _state.enabled = previous


def no_grad() -> AbstractContextManager[None]:
    """``with no_grad():`` evaluates without recording a graph."""
    return set_grad_enabled(False)


def enable_grad() -> AbstractContextManager[None]:
    """``with enable_grad():`` records a graph again inside a ``no_grad`` block."""
    return set_grad_enabled(True)
