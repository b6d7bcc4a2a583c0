"""The last ``mem`` secant pairs (s_i, y_i) of a limited-memory operator, in a preallocated ring.

One (2 mem, n) device array holds the pairs interleaved: row 2j is s and row 2j + 1 is y of slot j.
Slots fill from 0, so the stored pairs are always the prefix ``rows[:2 count]``, one contiguous block
that a single matrix-vector product reads. Once ``mem`` pairs are stored, a new pair overwrites the
slot of the oldest one: storing costs one copy of s and y, and nothing else moves.
"""

from __future__ import annotations

from typing import Any

from minidnn.backend import Backend


class PairMemory:
    """A ring of at most ``mem`` pairs of length-n vectors on ``backend``'s device."""

    def __init__(self, backend: Backend, n: int, mem: int, dtype: Any):
        self.mem = mem
        self.rows = backend.zeros((2 * mem, n), dtype=dtype)
        self.count = 0
        self.newest = -1

    @property
    def next_slot(self) -> int:
        """The slot the next pair goes to: the first free one, else the oldest pair's."""
        return (self.newest + 1) % self.mem

    @property
    def stored(self) -> Any:
        """The stored pairs as a (2 count, n) view, s and y interleaved by slot."""
        return self.rows[: 2 * self.count, :]

    def order(self) -> list[int]:
        """The slots of the stored pairs, oldest first."""
        first = self.newest - self.count + 1
        return [(first + i) % self.mem for i in range(self.count)]

    def s(self, slot: int) -> Any:
        return self.rows[2 * slot, :]

    def y(self, slot: int) -> Any:
        return self.rows[2 * slot + 1, :]

    def store(self, s: Any, y: Any) -> int:
        """Copies (s, y) into the next slot, dropping the oldest pair when full; returns the slot."""
        slot = self.next_slot
        self.rows[2 * slot, :] = s
        self.rows[2 * slot + 1, :] = y
        self.newest = slot
        self.count = min(self.count + 1, self.mem)
        return slot

    def reset(self) -> None:
        """Forgets every pair (the buffer is kept: only stored slots are ever read)."""
        self.count = 0
        self.newest = -1
