"""Fetching one file over HTTP(S) (or ``file:``) with size and SHA-256 checks and an atomic rename.

The body is streamed into a temporary file in the target's own folder while its SHA-256 is
computed; only when the byte count and the digest both match is the temporary file renamed onto
the target (``os.replace``, atomic on one file system). Any failure (network error, HTTP error,
connection dropped mid-body, short or overlong body, wrong digest, deadline passed, a folder in
the target's place) removes the temporary file and every folder the download created, and raises
DatasetError naming the file, the URL tried and how to place the file by hand. Folders that
existed before are left as they were.

Time limits: ``timeout`` bounds each wait for the server (to connect, or for the next piece of the
body); ``deadline`` bounds the whole transfer, so a server that trickles bytes cannot hold a
download forever. It is checked after each piece received, so a transfer ends within
``deadline + timeout`` seconds.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import BinaryIO

from minidnn.datasets.errors import DatasetError

DEFAULT_TIMEOUT = 60.0
"""Seconds to wait for the server to connect or to send the next piece of the body."""

MINIMUM_RATE = 32 * 1024
"""Bytes per second a download of known size must average when no deadline is given.

A design choice: the default deadline, ``DEFAULT_TIMEOUT + size / MINIMUM_RATE``, gives the
170 MB CIFAR-10 tarball about 90 minutes and the 29 kB MNIST label file about a minute.
"""

UNKNOWN_SIZE_DEADLINE = 3600.0
"""Seconds allowed for a download of unknown size when no deadline is given."""

_CHUNK = 1 << 20
_log = logging.getLogger(__name__)


def sha256_of(path: Path) -> str:
    """The SHA-256 of the file at ``path``, as lowercase hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    url: str,
    target: Path,
    sha256: str,
    size: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float | None = None,
) -> Path:
    """Fetch ``url`` into ``target`` after checking its byte count and SHA-256; return ``target``.

    ``size`` (bytes) is checked when given. ``deadline`` (seconds for the whole transfer) defaults
    to ``timeout + size / MINIMUM_RATE`` (``UNKNOWN_SIZE_DEADLINE`` without a size). The target's
    folder is created if needed. On any failure nothing is left at ``target`` or beside it, no
    folder this call created remains, and DatasetError explains how to place the file by hand.
    """
    target = Path(target)
    if target.is_dir():
        raise DatasetError(
            f"cannot save {target.name}: {target} is a folder; remove or rename it, or choose "
            "another root folder. " + _by_hand(url, target, sha256)
        )
    if deadline is None:
        deadline = UNKNOWN_SIZE_DEADLINE if size is None else timeout + size / MINIMUM_RATE
    created = _absent_folders(target.parent)
    try:
        return _download(url, target, sha256, size, timeout, deadline)
    except BaseException:
        _remove_empty(created)
        raise


def _download(url: str, target: Path, sha256: str, size: int | None, timeout: float, deadline: float) -> Path:
    """The body of :func:`download`: temporary file, fetch, checks, rename."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise DatasetError(
            f"cannot store {target.name} in {target.parent} ({exc.strerror or exc}); "
            f"choose a writable root folder or place the file by hand: " + _by_hand(url, target, sha256)
        ) from exc
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            received, digest = _fetch(url, out, target, sha256, size, timeout, deadline)
        _verify(url, target, sha256, size, received, digest)
        try:
            os.replace(temporary, target)
        except OSError as exc:
            fault = f"cannot rename the verified file onto {target} ({exc.strerror or exc})"
            raise DatasetError(_failure(url, target, sha256, fault)) from exc
    finally:
        temporary.unlink(missing_ok=True)
    return target


def _fetch(
    url: str, out: BinaryIO, target: Path, sha256: str, size: int | None, timeout: float, deadline: float
) -> tuple[int, str]:
    """Stream the body of ``url`` into ``out`` within ``deadline``; return (bytes received, SHA-256 hex).

    ``read1`` returns whatever the server has sent so far (at most a chunk), so the deadline is
    checked after every piece, however slowly the pieces come.
    """
    _log.info("downloading %s to %s", url, target)
    digest = hashlib.sha256()
    received = 0
    limit = time.monotonic() + deadline
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "minidnn-datasets"})
        with urllib.request.urlopen(request, timeout=min(timeout, deadline)) as response:
            announced = response.headers.get("Content-Length")
            for chunk in iter(lambda: response.read1(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if size is not None and received > size:
                    fault = f"received more than the expected {size} bytes"
                    raise DatasetError(_failure(url, target, sha256, fault))
                if time.monotonic() > limit:
                    fault = f"the deadline of {deadline:g} s passed after {received} bytes"
                    raise DatasetError(_failure(url, target, sha256, fault))
    except DatasetError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise DatasetError(_failure(url, target, sha256, f"{type(exc).__name__}: {exc}")) from exc
    if announced is not None and announced.isdigit() and int(announced) != received:
        fault = f"the connection ended after {received} of {announced} bytes"
        raise DatasetError(_failure(url, target, sha256, fault))
    return received, digest.hexdigest()


def _verify(url: str, target: Path, sha256: str, size: int | None, received: int, digest: str) -> None:
    """Raise DatasetError if the byte count or the digest of the body is not the pinned one."""
    if size is not None and received != size:
        fault = f"received {received} bytes, expected {size}"
        raise DatasetError(_failure(url, target, sha256, fault))
    if digest != sha256.lower():
        fault = f"SHA-256 mismatch: received {digest}, expected {sha256.lower()}"
        raise DatasetError(_failure(url, target, sha256, fault))


def _absent_folders(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    absent = []
    while not folder.exists() and folder.parent != folder:
        absent.append(folder)
        folder = folder.parent
    return absent


def _remove_empty(folders: list[Path]) -> None:
    """Remove the given folders, deepest first, stopping at the first that is not empty (or gone)."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _failure(url: str, target: Path, sha256: str, fault: str) -> str:
    """The message of a failed download."""
    return f"downloading {target.name} from {url} failed: {fault}. Nothing was kept. " + _by_hand(
        url, target, sha256
    )


def _by_hand(url: str, target: Path, sha256: str) -> str:
    """How to place the file by hand."""
    return (
        f"To place the file by hand, fetch {url} (or the same file from any mirror; "
        f"SHA-256 {sha256.lower()}) and save it as {target}."
    )
