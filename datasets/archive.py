"""Safe extraction of chosen regular files from a tar archive (the CIFAR-10 tarball).

Only the expected members are written, each to a path the caller chose, so member names never
become paths. Any member with an absolute path, a ``..`` component, a link, a device or a FIFO,
an expected member that is not a regular file, or an expected member given twice, makes the whole
archive refused. Members are written to temporary files and renamed into place only after the
entire archive has been read and checked; a refused or broken archive leaves nothing behind.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from minidnn.datasets.errors import DatasetError


def extract_members(archive: Path, members: Mapping[str, Path]) -> None:
    """Extract the member named by each key of ``members`` to the path it maps to.

    Keys are member names as stored in the archive (a leading ``./`` is ignored). Raises
    DatasetError naming the archive and the fault: unsafe or duplicate members, missing expected
    members, or a corrupt, truncated or unreadable archive.
    """
    written: dict[str, Path] = {}
    try:
        _stream_members(Path(archive), members, written)
        missing = sorted(set(members) - set(written))
        if missing:
            raise DatasetError(f"{archive}: the archive lacks the members {', '.join(missing)}")
        for name, temporary in list(written.items()):
            os.replace(temporary, members[name])
            del written[name]
    finally:
        for temporary in written.values():
            temporary.unlink(missing_ok=True)


def _stream_members(archive: Path, members: Mapping[str, Path], written: dict[str, Path]) -> None:
    """Read the archive once, checking every member and copying the expected ones aside.

    A gzip-compressed archive is read through to its end, so a truncated or damaged gzip stream
    is caught (length and CRC trailer) even past the tar end-of-archive marker.
    """
    try:
        with open(archive, "rb") as raw:
            compressed = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            source = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            with tarfile.open(fileobj=source, mode="r|") as tar:
                for member in tar:
                    _take_member(archive, tar, member, members, written)
            while source.read(1 << 20):
                pass
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DatasetError(f"{archive}: corrupt, truncated or unreadable archive ({exc})") from exc


def _take_member(
    archive: Path,
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    members: Mapping[str, Path],
    written: dict[str, Path],
) -> None:
    """Check one member; copy it to a temporary file beside its target if it is expected."""
    name = _checked_name(archive, member)
    if name not in members:
        return
    if not member.isreg():
        raise DatasetError(f"{archive}: refusing the archive: member {name} is not a regular file")
    if name in written:
        raise DatasetError(f"{archive}: refusing the archive: member {name} repeats")
    written[name] = _copy_to_temporary(tar.extractfile(member), Path(members[name]))


def _checked_name(archive: Path, member: tarfile.TarInfo) -> str:
    """The member's name without a leading ``./``; raises DatasetError for an unsafe member."""
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).anchor:
        fault = "has an absolute path"
    elif ".." in PurePosixPath(name).parts or ".." in PureWindowsPath(name).parts:
        fault = "has a '..' component"
    elif member.issym() or member.islnk():
        fault = f"is a link to {member.linkname}"
    elif not (member.isreg() or member.isdir()):
        fault = "is neither a regular file nor a folder"
    else:
        return name
    raise DatasetError(f"{archive}: refusing the archive: member {member.name!r} {fault}")


def _copy_to_temporary(source: BinaryIO, target: Path) -> Path:
    """Copy the file object ``source`` to a new temporary file beside ``target``.

    A fault of the folder (not writable, disk full) raises DatasetError naming it; a fault while
    reading ``source`` propagates as it came, for the caller to report against the archive.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise DatasetError(f"{target.parent}: cannot write there ({exc.strerror or exc})") from exc
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            shutil.copyfileobj(source, out, length=1 << 20)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary
