"""Parameter initialisation, drawn from a seeded generator passed in (never a global one).

Fans of a weight: a dense weight (out, in) has fan_in = in, fan_out = out; a convolution kernel
(out, in, kh, kw) has fan_in = in kh kw and fan_out = out kh kw (Glorot & Bengio 2010; He et al. 2015).

    glorot_uniform   U(-a, a), a = sqrt(6 / (fan_in + fan_out))     Knet's default (xavier_uniform)
    glorot_normal    N(0, 2 / (fan_in + fan_out))
    he_uniform       U(-a, a), a = sqrt(6 / fan_in)
    he_normal        N(0, 2 / fan_in)

Draws are made in the parameter's dtype by a ``minidnn.backend.Generator``; the network draws every
parameter on the host, in layout order, so a seed gives the same weights on every backend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from minidnn.backend import Generator


def fans(shape: Sequence[int]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape`` (out, in, *kernel)."""
    if len(shape) < 2:
        raise ValueError(f"fans need a weight of at least two dimensions, got shape {tuple(shape)}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def glorot_uniform(rng: Generator, shape: Sequence[int], dtype: Any = None) -> Any:
    fan_in, fan_out = fans(shape)
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, shape, dtype)


def glorot_normal(rng: Generator, shape: Sequence[int], dtype: Any = None) -> Any:
    fan_in, fan_out = fans(shape)
    return rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), shape, dtype)


def he_uniform(rng: Generator, shape: Sequence[int], dtype: Any = None) -> Any:
    fan_in, _ = fans(shape)
    a = math.sqrt(6.0 / fan_in)
    return rng.uniform(-a, a, shape, dtype)


def he_normal(rng: Generator, shape: Sequence[int], dtype: Any = None) -> Any:
    fan_in, _ = fans(shape)
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), shape, dtype)


def zeros(rng: Generator, shape: Sequence[int], dtype: Any = None) -> Any:
    """Zeros (biases); takes the generator for a uniform signature and draws nothing."""
    return rng.backend.zeros(shape, rng.backend.dtype(dtype))


INITIALIZERS: dict[str, Callable[..., Any]] = {
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "zeros": zeros,
}


def get(name: str | Callable[..., Any]) -> Callable[..., Any]:
    """The initializer called ``name`` (or a callable, returned as is)."""
    if callable(name):
        return name
    if name not in INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}; valid: {', '.join(INITIALIZERS)}")
    return INITIALIZERS[name]
