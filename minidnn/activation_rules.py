"""Elementwise activations in place: σ, its slope σ' and its curvature σ'' written into given buffers.

The closed-form passes (:mod:`minidnn.dense_chain`, :mod:`minidnn.conv_front`) take, for an activation
A = σ(Z), D = σ'(Z) and S = σ''(Z) from these rules, each written with ``out=`` (no temporary). ReLU's
slope is the step [z > 0] and its curvature 0, as in the graph. Through an activation the reverse pass
and its R-operator (Pearlmutter 1994) read

    dZ = g ⊙ D,        R(dZ) = R(g) ⊙ D + g ⊙ S ⊙ R(Z)                (``through_activation``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minidnn.layers import Layer, ReLU, Sigmoid, Softplus, Tanh


# -- activations: σ, σ' and σ'' written into ``out`` (a = σ(z), d = σ'(z)) ------------------------------
def _relu(xp: Any, z: Any, out: Any) -> None:
    xp.maximum(z, 0, out=out)


def _relu_slope(xp: Any, z: Any, a: Any, out: Any) -> None:
    """The step [z > 0] as 0 and 1."""
    xp.greater(z, 0, out=out)


def _tanh(xp: Any, z: Any, out: Any) -> None:
    xp.tanh(z, out=out)


def _tanh_slope(xp: Any, z: Any, a: Any, out: Any) -> None:
    """1 - a²."""
    xp.multiply(a, a, out=out)
    xp.subtract(1, out, out=out)


def _tanh_curvature(xp: Any, z: Any, a: Any, d: Any, out: Any) -> None:
    """-2 a (1 - a²)."""
    xp.multiply(a, d, out=out)
    xp.multiply(out, -2, out=out)


def _sigmoid(xp: Any, z: Any, out: Any) -> None:
    """(1 + tanh(z / 2)) / 2, with no overflow for any z."""
    xp.multiply(z, 0.5, out=out)
    xp.tanh(out, out=out)
    xp.add(out, 1, out=out)
    xp.multiply(out, 0.5, out=out)


def _sigmoid_slope(xp: Any, z: Any, a: Any, out: Any) -> None:
    """a (1 - a)."""
    xp.subtract(1, a, out=out)
    xp.multiply(out, a, out=out)


def _sigmoid_curvature(xp: Any, z: Any, a: Any, d: Any, out: Any) -> None:
    """a (1 - a)(1 - 2a) = d (1 - 2a)."""
    xp.multiply(a, -2, out=out)
    xp.add(out, 1, out=out)
    xp.multiply(out, d, out=out)


def _softplus(xp: Any, z: Any, out: Any) -> None:
    """log(exp(0) + exp(z)), with no overflow for any z and no temporary."""
    xp.logaddexp(z, 0, out=out)


def _softplus_slope(xp: Any, z: Any, a: Any, out: Any) -> None:
    """The logistic function of z."""
    _sigmoid(xp, z, out)


def _softplus_curvature(xp: Any, z: Any, a: Any, d: Any, out: Any) -> None:
    """σ(z)(1 - σ(z)), from d = σ(z)."""
    _sigmoid_slope(xp, z, d, out)


@dataclass(frozen=True)
class Activation:
    """σ, σ' and σ'' of an elementwise activation; ``curvature`` is None where σ'' is 0."""

    apply: Callable[[Any, Any, Any], None]
    slope: Callable[[Any, Any, Any, Any], None]
    curvature: Callable[[Any, Any, Any, Any, Any], None] | None


ACTIVATIONS: dict[type[Layer], Activation] = {
    ReLU: Activation(_relu, _relu_slope, None),
    Tanh: Activation(_tanh, _tanh_slope, _tanh_curvature),
    Sigmoid: Activation(_sigmoid, _sigmoid_slope, _sigmoid_curvature),
    Softplus: Activation(_softplus, _softplus_slope, _softplus_curvature),
}


def through_activation(
    xp: Any, activation: Activation, z: Any, r_z: Any, a: Any, d: Any, term: Any, r_g: Any, g: Any
) -> None:
    """R(dZ) = R(g) ⊙ D + g ⊙ S ⊙ R(Z) into ``r_g`` and dZ = g ⊙ D into ``g``, in place; Z, R(Z), A
    and D = σ'(Z) given, ``term`` a buffer of g's shape for S (unused where σ'' is 0)."""
    xp.multiply(r_g, d, out=r_g)
    if activation.curvature is not None:
        activation.curvature(xp, z, a, d, term)
        xp.multiply(term, g, out=term)
        xp.multiply(term, r_z, out=term)
        xp.add(r_g, term, out=r_g)
    xp.multiply(g, d, out=g)
