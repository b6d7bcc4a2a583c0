"""Workspace: reusable host buffers for the temporaries of a computation that repeats.

NumPy allocates every result afresh. A training step makes the same large temporaries on every
call (activations, im2col columns, masks, gradients, tangents), and glibc gives large freed blocks
back to the system, so each call pays again for the kernel mapping and zeroing fresh pages (minor
page faults: 800 to 11,000 per LeNet gradient or Hessian-vector product at batch 128). A workspace
keeps the buffers instead. While one is current (``with workspace:``, per thread), the operations
take their large results from it (:mod:`minidnn.ops.buffers`):

    workspace.take(shape, dtype) -> an array of that shape and dtype that nothing else references

Reuse is decided by reference counts, so nothing in use is ever overwritten: a buffer is free when
the pool holds the only reference to it. Every array that views a buffer (a reshape, a transpose,
a slice, a strided window) refers to it through its ``base``, so a buffer is handed out again only
after every tensor, graph node and caller holding it or a view of it has let it go, whatever
escapes the call. The pool keeps, per size and dtype, as many buffers as were in use at once: after
the first call for a batch size, steady-state calls allocate nothing large. Every ``keep`` calls,
the buffers left unused for ``keep`` consecutive calls are dropped, so a change of batch size does
not leave the old sizes behind. Arrays under ``min_bytes`` come from the allocator as usual: its
free lists serve them without new pages.

A workspace serves the arrays of its backend, and only where that backend pools
(``Backend.pools_buffers``: NumPy; CuPy has its own memory pool, array-api-strict no ``out=``).
"""

from __future__ import annotations

import math
import sys
import threading
from typing import Any

from minidnn import backend as _backend
from minidnn.backend import Backend

MIN_BYTES = 64 * 1024
"""Arrays smaller than this are left to the allocator (glibc serves them from its heap free lists)."""

KEEP_CALLS = 16
"""A buffer not taken during this many consecutive calls is dropped (looked for every that many calls)."""


class Workspace:
    """A pool of reusable buffers, made current with ``with`` (see the module docstring).

    A workspace serves one thread at a time; threads working at once each use their own.
    """

    def __init__(self, backend: str | Backend = "numpy", min_bytes: int = MIN_BYTES, keep: int = KEEP_CALLS):
        self.backend = _backend.get(backend)
        self.pools = self.backend.pools_buffers
        self.min_bytes = int(min_bytes)
        self.keep = int(keep)
        self._buckets: dict[tuple[int, Any], _Bucket] = {}
        self._calls = 0
        self._depth = 0
        self._previous: list[Workspace | None] = []

    def take(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """An array of ``shape`` and ``dtype`` that no one else references (contents undefined).

        Buffers are kept flat, by size and dtype, so results of one size share them whatever their
        shapes; the array handed out is a C-ordered view of one.
        """
        size = math.prod(shape)
        key = (size, dtype)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket()
        return self.backend.xp.reshape(bucket.take(self.backend, size, dtype, self._calls), shape)

    @property
    def nbytes(self) -> int:
        """Bytes held by the pool (in use or free)."""
        return sum(a.nbytes for bucket in self._buckets.values() for a in bucket.arrays)

    def clear(self) -> None:
        """Drops every buffer (those still in use stay alive with their holders)."""
        self._buckets.clear()

    def __enter__(self) -> Workspace:
        self._previous.append(current())
        self._depth += 1
        _state.workspace = self
        return self

    def __exit__(self, *exc: object) -> None:
        _state.workspace = self._previous.pop()
        self._depth -= 1
        if self._depth == 0:
            self._calls += 1
            if self._calls % self.keep == 0:
                self._evict()

    def _evict(self) -> None:
        """Drops the buffers not taken during the last ``keep`` calls."""
        oldest = self._calls - self.keep
        for key in [k for k, bucket in self._buckets.items() if bucket.drop_older(oldest)]:
            del self._buckets[key]

    def __repr__(self) -> str:
        count = sum(len(b.arrays) for b in self._buckets.values())
        return f"Workspace({count} buffers, {self.nbytes / 2**20:.1f} MiB)"


class _Bucket:
    """The flat buffers of one (size, dtype), with the call in which each was last taken."""

    __slots__ = ("arrays", "last")

    def __init__(self) -> None:
        self.arrays: list[Any] = []
        self.last: list[int] = []

    def take(self, backend: Backend, size: int, dtype: Any, call: int) -> Any:
        arrays = self.arrays
        for i in range(len(arrays)):
            if _references(arrays, i) == _FREE:
                self.last[i] = call
                return arrays[i]
        buffer = backend.xp.empty((size,), dtype=dtype)
        arrays.append(buffer)
        self.last.append(call)
        return buffer

    def drop_older(self, oldest: int) -> bool:
        """Drops the buffers last taken before call ``oldest``; True when none is left."""
        kept = [i for i, last in enumerate(self.last) if last >= oldest]
        if len(kept) != len(self.arrays):
            self.arrays = [self.arrays[i] for i in kept]
            self.last = [self.last[i] for i in kept]
        return not self.arrays


def _references(arrays: list[Any], i: int) -> int:
    return sys.getrefcount(arrays[i])


# The count _references sees for an array held by the list alone (calibrated, not assumed: the
# interpreter's own temporary references differ between Python versions).
_FREE = _references([_backend.get("numpy").zeros((0,))], 0)


class _State(threading.local):
    workspace: Workspace | None = None


_state = _State()


def current() -> Workspace | None:
    """The workspace current in this thread, or ``None``."""
    return _state.workspace


def serving(like: Any) -> Workspace | None:
    """The current workspace when it hands out buffers for arrays such as ``like``, else ``None``."""
    workspace = _state.workspace
    if workspace is None or not workspace.pools or not workspace.backend.owns(like):
        return None
    return workspace


def buffer(like: Any, shape: tuple[int, ...], dtype: Any = None) -> Any:
    """A buffer from the current workspace for a result of ``shape`` beside array ``like``, or ``None``.

    ``None`` when no workspace is current, when ``like``'s backend does not pool, or when the result
    is small: the caller then computes as it would without a workspace.
    """
    workspace = serving(like)
    if workspace is None:
        return None
    dtype = like.dtype if dtype is None else _dtypes.get(dtype) or _dtype_of(workspace.backend, dtype)
    if math.prod(shape) * dtype.itemsize < workspace.min_bytes:
        return None
    return workspace.take(tuple(shape), dtype)


_dtypes: dict[Any, Any] = {}


def _dtype_of(backend: Backend, dtype: Any) -> Any:
    """The dtype object (with ``itemsize``) for a dtype or scalar type such as ``xp.bool``."""
    _dtypes[dtype] = backend.xp.empty((0,), dtype=dtype).dtype
    return _dtypes[dtype]
