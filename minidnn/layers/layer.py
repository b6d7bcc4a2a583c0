"""The layer base class: declared parameters, input checks, a forward map, train/eval mode.

A layer declares its parameters (name, shape, initializer) but owns no storage: the network that
contains it draws them from its seed and binds them as tensors viewing one flat vector (see
:mod:`minidnn.layers.sequential`). ``check_input`` raises a ValueError naming the layer and the shapes
before any computation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minidnn.tensor import Tensor


@dataclass(frozen=True)
class ParameterSpec:
    """A declared parameter: its name in the layer, its shape, and its initializer."""

    name: str
    shape: tuple[int, ...]
    init: str | Callable[..., Any]


class Layer:
    """Base class of the layers."""

    training: bool = True

    def specs(self) -> tuple[ParameterSpec, ...]:
        """The parameters this layer declares, weight before bias."""
        return ()

    def parameters(self) -> list[Tensor]:
        """The bound parameter tensors, in declaration order."""
        return [getattr(self, spec.name) for spec in self.specs()]

    def bind(self, tensors: dict[str, Tensor]) -> None:
        """Attaches parameter tensors (views of the network's vector) by name."""
        for name, tensor in tensors.items():
            setattr(self, name, tensor)

    def is_bound(self) -> bool:
        return all(getattr(self, spec.name, None) is not None for spec in self.specs())

    def set_training(self, training: bool) -> None:
        self.training = training

    def fix_noise(self, step: int | None) -> None:
        """Random layers (dropout) draw from ``step`` when it is an int; a fresh draw per call on None."""

    def seed_noise(self, seed: int) -> None:
        """Random layers take their own seed from the network's generator."""

    def check_input(self, x: Tensor) -> None:
        """A ValueError naming the layer and the shapes when ``x`` cannot be its input."""

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of the output for an input of ``shape`` (checked like an input)."""
        return shape

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def __call__(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if not self.is_bound():
            raise RuntimeError(
                f"{self!r} has no parameters yet: build it into a Sequential, which draws them"
            )
        self.check_input(x)
        return self.forward(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
