"""Atomic file writes: a reader sees the old file or the complete new one, never a partial file.

The content goes to a temporary file in the target's folder (same file system), is flushed to disk,
then renamed over the target with ``os.replace``; on any failure, Ctrl-C included, the temporary
file is removed and the target is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write(path: str | os.PathLike[str], fill: Callable[[BinaryIO], None]) -> Path:
    """Writes ``path`` atomically; ``fill(f)`` writes the content to the binary file ``f``."""
    target = Path(path)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes the file private; give it the usual mode
        with os.fdopen(fd, "wb") as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Writes ``text`` (UTF-8) to ``path`` atomically."""
    return write(path, lambda f: f.write(text.encode("utf-8")))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
