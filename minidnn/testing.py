"""Hypothesis strategies for derivative tests: shapes, and inputs away from kinks and overflow.

Needs the ``test`` extra (hypothesis). Arrays are drawn as float64 NumPy arrays on the host; a test
moves them to its backend and dtype (``backend.to_device(a, dtype=...)``).

Finite differences need the function to be smooth in a neighbourhood of the input: ``arrays`` pushes
every value at least ``margin`` away from each point in ``kinks`` (0 for relu and abs), and keeps
values in ``[low, high]`` so that exp and friends stay far from overflow.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as err:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "minidnn.testing needs hypothesis, which the test extra installs: pip install 'minidnn[test]'"
    ) from err

from minidnn.function import Function
from minidnn.tensor import Tensor


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """Array shapes with ``min_dims..max_dims`` axes of ``min_side..max_side`` elements."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


@st.composite
def broadcastable_shapes(draw: st.DrawFn, shape: Sequence[int]) -> tuple[int, ...]:
    """Shapes that broadcast to ``shape``: a suffix of its axes, some of them replaced by 1."""
    shape = tuple(shape)
    kept = shape[len(shape) - draw(st.integers(0, len(shape))) :]
    ones = draw(st.lists(st.booleans(), min_size=len(kept), max_size=len(kept)))
    return tuple(1 if one else s for s, one in zip(kept, ones))


@st.composite
def arrays(
    draw: st.DrawFn,
    shape: Sequence[int],
    low: float = -2.0,
    high: float = 2.0,
    kinks: Sequence[float] = (),
    margin: float = 0.05,
) -> numpy.ndarray:
    """A float64 array of ``shape`` with values in [low, high], each >= ``margin`` from every kink."""
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)
    a = draw(hnp.arrays(numpy.float64, tuple(shape), elements=elements))
    for k in kinks:
        near = numpy.abs(a - k) < margin
        a = numpy.where(near, k + numpy.where(a >= k, margin, -margin), a)
    return numpy.clip(a, low - margin, high + margin)


@st.composite
def separated_pair(
    draw: st.DrawFn, shape: Sequence[int], low: float = -2.0, high: float = 2.0, margin: float = 0.05
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Two arrays of ``shape`` that differ by at least ``margin`` everywhere (for maximum, minimum)."""
    a = draw(arrays(shape, low, high))
    gap = draw(arrays(shape, margin, 1.0))
    sign = numpy.where(draw(hnp.arrays(numpy.bool_, tuple(shape))), 1.0, -1.0)
    return a, a + sign * gap


def graph_tensors(*outputs: Tensor) -> list[Tensor]:
    """Every tensor a graph keeps for its backward pass (saved inputs and outputs), from ``outputs``.

    For checks on what the graph holds, e.g. that a float32 graph holds no float64 array.
    """
    seen: set[int] = set()
    stack = [out.creator for out in outputs]
    found: list[Tensor] = []
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        found.extend(node.saved)
        if node.y is not None:
            found.append(node.output())
        stack.extend(p for p in node.parents if isinstance(p, Function))
    return found
