"""Fetching one file over HTTP(S) (or ``file:``) with size and SHA-256 checks and an atomic rename.

The body is streamed into a temporary file in the target's own folder while its SHA-256 is
computed; only when the byte count and the digest both match is the temporary file renamed onto
the target (``os.replace``, atomic on one file system). Any failure (network error, HTTP error,
connection dropped mid-body, short body, wrong digest) removes the temporary file and raises
DatasetError naming the file, the URL tried and how to place the file by hand.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import BinaryIO

from minidnn.datasets.errors import DatasetError

DEFAULT_TIMEOUT = 60.0
"""Seconds to wait for the server to connect or to send the next piece of the body."""

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
) -> Path:
    """Fetch ``url`` into ``target`` after checking its byte count and SHA-256; return ``target``.

    ``size`` (bytes) is checked when given. The target's folder is created if needed. On any
    failure nothing is left at ``target`` or beside it, and DatasetError explains how to place
    the file by hand.
    """
    target = Path(target)
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
            received, digest = _fetch(url, out, target, sha256, timeout)
        _verify(url, target, sha256, size, received, digest)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def _fetch(url: str, out: BinaryIO, target: Path, sha256: str, timeout: float) -> tuple[int, str]:
    """Stream the body of ``url`` into ``out``; return (bytes received, SHA-256 hex)."""
    _log.info("downloading %s to %s", url, target)
    digest = hashlib.sha256()
    received = 0
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "minidnn-datasets"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
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
