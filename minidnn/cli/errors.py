"""The command's exit codes and the error that carries a message to the user instead of a traceback.

An unexpected failure ends with Python's own traceback and exit code 1.
"""

from __future__ import annotations

OK = 0
"""The command did what it was asked (whatever status the solver ended with)."""
USAGE = 2
"""Bad input: an unknown name, a bad option, missing data, an unwritable folder, a bad checkpoint."""
INTERRUPTED = 130
"""Ctrl-C (128 + SIGINT, the shell's convention); what could be saved was saved."""


class CommandError(Exception):
    """A problem the user can fix; ``main`` prints the message and exits with ``code``."""

    def __init__(self, message: str, code: int = USAGE):
        super().__init__(message)
        self.code = code
