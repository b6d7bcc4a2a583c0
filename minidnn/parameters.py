"""One contiguous vector holding every parameter of a network, and its layout.

The layout fixes the order once (the network's depth-first walk: layers in order, a layer's own
parameters weight before bias, then those of the layers it holds), each parameter in C order.
Parameter ``i`` occupies ``vector[offsets[i] : offsets[i] + sizes[i]]`` and is that slice reshaped.
Reading or writing the whole vector is one copy; no concatenation ever happens.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from minidnn.backend import Backend


@dataclass(frozen=True)
class ParameterLayout:
    """Names, shapes and offsets of the parameters in the flat vector (immutable)."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]

    @classmethod
    def from_shapes(cls, named_shapes: list[tuple[str, tuple[int, ...]]]) -> ParameterLayout:
        names = tuple(n for n, _ in named_shapes)
        if len(set(names)) != len(names):
            raise ValueError(f"parameter names repeat: {names}")
        shapes = tuple(tuple(int(d) for d in s) for _, s in named_shapes)
        offsets, total = [], 0
        for s in shapes:
            offsets.append(total)
            total += math.prod(s)
        return cls(names, shapes, tuple(offsets))

    @functools.cached_property
    def sizes(self) -> tuple[int, ...]:
        return tuple(math.prod(s) for s in self.shapes)

    @functools.cached_property
    def _spans(self) -> tuple[tuple[int, int, tuple[int, ...]], ...]:
        """(start, stop, shape) of each parameter in the vector."""
        return tuple((o, o + n, s) for o, n, s in zip(self.offsets, self.sizes, self.shapes))

    @property
    def nvar(self) -> int:
        return self.offsets[-1] + self.sizes[-1] if self.shapes else 0

    def views(self, backend: Backend, vector: Any) -> list[Any]:
        """Each parameter as its slice of ``vector``, reshaped (a view on NumPy and CuPy; the array
        method where there is one, cheaper than the namespace function on small arrays)."""
        if hasattr(vector, "reshape"):
            return [vector[start:stop].reshape(shape) for start, stop, shape in self._spans]
        reshape = backend.xp.reshape
        return [reshape(vector[start:stop], shape) for start, stop, shape in self._spans]

    def flatten_into(self, backend: Backend, out: Any, parts: list[Any]) -> Any:
        """Writes ``parts`` (one array per parameter) into the flat vector ``out``; returns ``out``."""
        for name, o, n, s, part in zip(self.names, self.offsets, self.sizes, self.shapes, parts):
            if tuple(part.shape) != s:
                raise ValueError(
                    f"parameter {name} has shape {s}, given an array of shape {tuple(part.shape)}"
                )
            out[o : o + n] = backend.xp.reshape(part, (-1,))
        return out

    def describe(self) -> str:
        """A table of the layout: name, shape, offset, size."""
        rows = [f"{'name':24s} {'shape':18s} {'offset':>10s} {'size':>10s}"]
        for name, shape, offset, size in zip(self.names, self.shapes, self.offsets, self.sizes):
            rows.append(f"{name:24s} {str(shape):18s} {offset:10d} {size:10d}")
        rows.append(f"{'total':24s} {'':18s} {'':10s} {self.nvar:10d}")
        return "\n".join(rows)
