"""The layer base class: declared parameters, held layers, input checks, a forward map, train/eval mode.

A layer declares its parameters (name, shape, initializer) but owns no storage: the
:class:`minidnn.Network` built over it draws them from its seed and binds them as tensors viewing one
flat vector (see :mod:`minidnn.network`). ``check_input`` raises a ValueError naming the layer and the
shapes before any computation.

A layer may hold other layers (a composite, e.g. a residual block around a ``Sequential``). Its
children are found, never declared: every attribute that is a Layer, or a list, tuple or dict holding
Layers (at any depth), in the order the attributes were first assigned. A child is named by its
attribute (``body``), with the position or key for a container (``blocks.0``, ``heads.left``). A set
of layers has no order and is refused. So the network reaches every inner weight: none is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
        """The parameters this layer declares itself (not those of layers it holds), weight before bias."""
        return ()

    def parameters(self) -> list[Tensor]:
        """The bound parameter tensors this layer declares, in declaration order."""
        return [getattr(self, spec.name) for spec in self.specs()]

    def children(self) -> Iterator[tuple[str, Layer]]:
        """(name, layer) for each layer held directly, in the order of the attributes (module docstring)."""
        for attribute, value in vars(self).items():
            yield from _held(type(self).__name__, attribute, value)

    def named_layers(self, prefix: str = "") -> Iterator[tuple[str, Layer]]:
        """(path, layer) for this layer and every layer it holds, depth first in ``children`` order.

        The path joins the children's names with dots (``""`` for this layer, ``"0.body.2"`` deeper). A
        layer held at several places (shared, tied weights) comes once, at its first place.
        """
        return _walk(self, prefix, set())

    def bind(self, tensors: dict[str, Tensor]) -> None:
        """Attaches parameter tensors (views of the network's vector) by name."""
        for name, tensor in tensors.items():
            setattr(self, name, tensor)

    def is_bound(self) -> bool:
        """True when the parameters of this layer and of every layer it holds are bound."""
        return all(
            getattr(layer, spec.name, None) is not None
            for _, layer in self.named_layers()
            for spec in layer.specs()
        )

    def set_training(self, training: bool) -> None:
        """Sets this layer's mode (the network sets that of every layer it holds)."""
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
            raise RuntimeError(f"{self!r} has no parameters yet: build it into a Network, which draws them")
        self.check_input(x)
        return self.forward(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _held(owner: str, name: str, value: Any) -> Iterator[tuple[str, Layer]]:
    """The layers inside an attribute's value, named by the attribute and their place in it."""
    if isinstance(value, Layer):
        yield name, value
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _held(owner, f"{name}.{i}", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _held(owner, f"{name}.{key}", item)
    elif isinstance(value, set | frozenset) and any(isinstance(item, Layer) for item in value):
        raise TypeError(
            f"{owner}: attribute {name!r} is a set holding layers; a set has no order, so the "
            "parameters would have none: use a list or a tuple"
        )


def _walk(layer: Layer, path: str, seen: set[int]) -> Iterator[tuple[str, Layer]]:
    if id(layer) in seen:
        return
    seen.add(id(layer))
    yield path, layer
    for name, child in layer.children():
        yield from _walk(child, f"{path}.{name}" if path else name, seen)
